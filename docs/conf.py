"""Sphinx configuration of zloop's documentation (``uv run sphinx-build -W --keep-going -b html
docs docs/_build/html``). The pages are Markdown (MyST); the API reference is rST with autodoc."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import zloop  # noqa: E402  (after the path, so a checkout documents itself)
from zloop.constants import SocketOption  # noqa: E402

project = "zloop"
author = "the zloop authors"
copyright = "the zloop authors, MPL-2.0"
release = zloop.__version__
version = release

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build"]
myst_heading_anchors = 3
myst_enable_extensions = ["colon_fence"]

# No intersphinx: CI has no network.
autodoc_member_order = "bysource"
autodoc_default_options = {"members": True, "undoc-members": True}
# Types in the signature; a signature longer than a line is set one parameter per line.
autodoc_typehints = "signature"
autodoc_typehints_format = "short"
autodoc_preserve_defaults = True
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_rtype = False
python_maximum_signature_line_length = 88
python_display_short_literal_types = True

html_theme = "furo"
html_title = f"zloop {release}"
html_static_path: list[str] = []
html_theme_options = {"navigation_with_keys": True}
pygments_style = "friendly"
pygments_dark_style = "monokai"

#: ``zloop.Socket`` has a property per socket option, in lower and upper case (hundreds): the
#: API page summarises them instead of listing each.
_OPTION_NAMES = {n for upper in SocketOption.__members__ for n in (upper, upper.lower())}
_KEEP = {"FD", "EVENTS", "type", "last_endpoint", "subscribe", "unsubscribe"}


def _skip_option_attributes(
    app: Any, what: str, name: str, obj: Any, skip: bool, options: Any
) -> bool | None:
    if what == "class" and name in _OPTION_NAMES and name not in _KEEP:
        return True
    return None


def _own_docstrings_only(
    app: Any, what: str, name: str, obj: Any, options: Any, lines: list[str]
) -> None:
    """Drop a docstring a method inherits from outside zloop (``ZMQSelector.register`` has the
    standard library's, which is not reST): the page then shows the signature alone."""
    if what not in ("method", "attribute", "property") or getattr(obj, "__doc__", None):
        return
    module_name, _, rest = name.rpartition(".")
    owner: Any = None
    while module_name and owner is None:
        try:
            owner = importlib.import_module(module_name)
        except ImportError:
            module_name, _, head = module_name.rpartition(".")
            rest = f"{head}.{rest}"
    if owner is None:
        return
    *path, attr = rest.split(".")
    for part in path:
        owner = getattr(owner, part, None)
    if not isinstance(owner, type):
        return
    for klass in owner.__mro__:
        member = klass.__dict__.get(attr)
        if member is not None and getattr(member, "__doc__", None):
            if not klass.__module__.startswith("zloop"):
                lines.clear()
            return


def _no_object_base(app: Any, name: str, obj: Any, options: Any, bases: list[Any]) -> None:
    """ "Bases: object" says nothing: drop it (real bases, such as an adapter's, stay)."""
    bases[:] = [base for base in bases if base is not object]


def setup(app: Any) -> None:
    app.connect("autodoc-process-bases", _no_object_base)
    app.connect("autodoc-skip-member", _skip_option_attributes)
    app.connect("autodoc-process-docstring", _own_docstrings_only)
