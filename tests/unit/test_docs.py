"""The API reference covers every public name, and only names that exist.

The reference pages (``docs/api/*.rst``) list names in ``autosummary`` blocks and
``py:data`` directives; this test reads them as text (no Sphinx needed) and compares with
``dlnmc.__all__``. The site build itself (``./dev.sh docs``) checks that each entry
resolves and renders.
"""

from __future__ import annotations

import re

import pytest

import dlnmc
from tests.paths import REPO

API = REPO / "docs" / "api"


def reference_names(text: str) -> set[str]:
    """Names documented by one reference page: autosummary entries and py:data targets."""
    names: set[str] = set()
    in_block = False
    for line in text.splitlines():
        if line.startswith(".. autosummary::"):
            in_block = True
            continue
        if in_block:
            stripped = line.strip()
            if not stripped or stripped.startswith(":"):
                continue  # the blank line and options before the entries
            if line.startswith("   "):
                names.add(stripped.removeprefix("dlnmc."))
                continue
            in_block = False
        m = re.match(r"\.\. py:data:: (?:dlnmc\.)?(\w+)\s*$", line)
        if m:
            names.add(m.group(1))
    return names


def documented() -> set[str]:
    pages = sorted(API.glob("*.rst"))
    assert pages, f"no reference pages in {API}"
    return set().union(*(reference_names(p.read_text()) for p in pages))


def test_every_public_name_has_a_reference_entry():
    missing = sorted(set(dlnmc.__all__) - documented())
    assert not missing, f"public names without an entry in docs/api/*.rst: {missing}"


def test_every_top_level_entry_is_public():
    # Entries of submodules (e.g. fields.Field) are allowed; top-level ones must be exported.
    stale = sorted(n for n in documented() if "." not in n and n not in dlnmc.__all__)
    assert not stale, f"docs/api/*.rst lists names that are not in dlnmc.__all__: {stale}"


def test_parser_sees_a_missing_name():
    # The comparison above can fail: a page without one entry is caught.
    text = (API / "closed_form.rst").read_text()
    assert "entropy_sv" in reference_names(text)
    assert "entropy_sv" not in reference_names(text.replace("   entropy_sv\n", ""))


@pytest.mark.parametrize("page", ["index.md", "guide/theory.md", "guide/validation.md"])
def test_guide_pages_exist(page):
    assert (API.parent / page).is_file()
