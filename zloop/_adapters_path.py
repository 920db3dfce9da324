"""Make ``zloop.adapters`` importable from a tree that lacks the ``zloop/adapters`` symlink.

The adapters live in the repository's top-level ``adapters/`` folder. A git checkout carries the
symlink ``zloop/adapters -> ../adapters``, so there (and in an editable install of it) the normal
import machinery -- and a type checker, which sees ``zloop/py.typed`` -- finds the sub-package,
and nothing here does anything. A built wheel copies the folder to ``zloop/adapters`` (see
``pyproject.toml``). What remains is a tree without the link: an unpacked sdist (hatchling does not
archive symlinks) or a checkout made with ``core.symlinks=false``. For those this module installs a
tiny meta-path finder, after the normal ones, that answers for exactly the name ``zloop.adapters``
(the package's ``__path__`` then serves its submodules). Nothing is imported eagerly.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

_NAME = "zloop.adapters"


class _AdaptersFinder(importlib.abc.MetaPathFinder):
    def __init__(self, folder: Path) -> None:
        self._folder = folder

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != _NAME:
            return None
        return importlib.util.spec_from_file_location(
            _NAME,
            self._folder / "__init__.py",
            submodule_search_locations=[str(self._folder)],
        )


def install() -> None:
    """Install the finder for a tree without ``zloop/adapters`` (no-op for a checkout with the
    symlink and for an installed wheel)."""
    package_dir = Path(__file__).resolve().parent
    if (package_dir / "adapters" / "__init__.py").is_file():
        return  # the symlink, or an installed wheel: the sub-package is there
    folder = package_dir.parent / "adapters"
    if not (folder / "__init__.py").is_file():
        return
    if any(isinstance(f, _AdaptersFinder) for f in sys.meta_path):
        return
    sys.meta_path.append(_AdaptersFinder(folder))
