"""Sphinx configuration of the dlnmc documentation site.

Built by ``./dev.sh docs`` (``sphinx-build -W --keep-going -b html docs docs/_build/html``):
warnings are errors, every tutorial is executed by the build, and nothing is fetched from
the network (MathJax is served from the site itself).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # document the source tree this build belongs to

import dlnmc  # noqa: E402

project = "dlnmc"
author = "the dlnmc developers"
copyright = "the dlnmc developers, BSD-3-Clause"
release = dlnmc.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    "sphinx-mathjax-offline",  # module name has hyphens; serves MathJax 3 from _static/
    "numpydoc",
    "myst_nb",
    "sphinxarg.ext",
    "sphinx_copybutton",
]

source_suffix = {".rst": "restructuredtext", ".md": "myst-nb"}
exclude_patterns = ["_build", "jupyter_execute", "**.ipynb_checkpoints"]
root_doc = "index"

# --- MyST and the executed tutorials -------------------------------------------------------
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist"]
myst_heading_anchors = 3
nb_execution_mode = os.environ.get("DLNMC_DOCS_EXECUTION", "force")  # every figure from this build
nb_execution_timeout = 120  # per cell; each tutorial runs well under 30 s on one core
nb_execution_raise_on_error = True  # a broken example fails the build
nb_execution_show_tb = True
nb_merge_streams = True
nb_execution_excludepatterns: list[str] = []

# --- API reference ------------------------------------------------------------------------
autosummary_generate = True
autosummary_imported_members = True
autodoc_default_options = {"members": False}
autodoc_typehints = "none"  # numpydoc renders the types written in the docstrings
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
numpydoc_validation_checks: set[str] = set()

# Names that docstrings mention in prose or type fields but that have no page of their own.
# Each entry is listed in the merge notes (docs/guide/architecture.md, "For the lead").
nitpicky = False
nitpick_ignore: list[tuple[str, str]] = []

# Off-line build: no inventories are downloaded; links to numpy/xarray stay plain text.
intersphinx_mapping: dict[str, tuple[str, str | None]] = {}

mathjax_path = "mathjax/tex-chtml.js"  # the local copy, no CDN

# --- HTML ---------------------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"dlnmc {release}"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "navbar_align": "left",
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
    "secondary_sidebar_items": ["page-toc"],
}
html_sidebars = {"index": []}
html_show_sourcelink = False

