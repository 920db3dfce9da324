"""Make ``zloop.adapters`` importable from a source checkout or an editable install.

The adapters live in the repository's top-level ``adapters/`` folder. A built wheel copies that
folder to ``zloop/adapters`` (see ``pyproject.toml``), so nothing here runs for an installed wheel.
In a checkout, ``zloop/adapters`` does not exist; this module then installs a tiny meta-path
finder that answers for exactly the name ``zloop.adapters`` (the normal machinery handles its
submodules through the package's ``__path__``). Nothing is imported eagerly.
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
    """Install the finder when running from a checkout (no-op for an installed wheel)."""
    package_dir = Path(__file__).resolve().parent
    if (package_dir / "adapters" / "__init__.py").is_file():
        return  # installed wheel: the real sub-package is there
    folder = package_dir.parent / "adapters"
    if not (folder / "__init__.py").is_file():
        return
    if any(isinstance(f, _AdaptersFinder) for f in sys.meta_path):
        return
    sys.meta_path.append(_AdaptersFinder(folder))
