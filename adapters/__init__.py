"""Event-loop adapters for zloop (imported as ``zloop.adapters``).

This folder sits at the top of the repository and is installed as the ``zloop.adapters``
sub-package (see ``pyproject.toml``). Each adapter will register a socket's edge-triggered
``FD`` with its loop and drain the socket until ``Again``; the shared discipline lives in one core
module. The adapters themselves arrive with the adapters issue; until then this package only
marks the place.
"""
