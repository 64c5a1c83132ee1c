"""Where the repository is, for tests that read its files (from any folder under tests/)."""

from pathlib import Path

#: The repository root: the nearest folder above this file holding pyproject.toml.
REPO = next(p for p in Path(__file__).resolve().parents if (p / "pyproject.toml").is_file())
