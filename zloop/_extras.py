"""Optional dependencies ("extras") and the error that names the extra to install.

zloop has no runtime dependency; each event loop, CURVE (PyNaCl), PNG plots and the demo come
with an extra of the distribution (``pip install "zloop-zmq[trio]"``). The distribution is called
``zloop-zmq`` because ``zloop`` on PyPI is an unrelated project; the import name is ``zloop``.

A module that needs an extra imports its libraries inside ``try`` and turns a missing one into
:class:`MissingExtraError`, whose message says which extra installs it, instead of the bare
``No module named 'outcome'`` of whatever dependency happened to be imported first::

    try:
        import trio
    except ModuleNotFoundError as exc:
        raise MissingExtraError("zloop.adapters.trio", "trio", "trio", exc) from exc

says ``zloop.adapters.trio needs trio, which is not installed (no module named 'outcome'): install
zloop's "trio" extra (pip install "zloop-zmq[trio]")``.
"""

from __future__ import annotations

__all__ = ["DISTRIBUTION", "MissingExtraError", "install_hint"]

#: The name to ``pip install`` (the import name stays ``zloop``).
DISTRIBUTION = "zloop-zmq"


def install_hint(extra: str) -> str:
    """``install zloop's "trio" extra (pip install "zloop-zmq[trio]")``."""
    return f'install zloop\'s "{extra}" extra (pip install "{DISTRIBUTION}[{extra}]")'


class MissingExtraError(ModuleNotFoundError):
    """A library of an optional extra is not installed; the message names the extra.

    A :class:`ModuleNotFoundError` (so ``except ImportError`` still catches it) whose ``name`` is
    the module that is missing and whose :attr:`extra` is the extra that installs it.
    """

    def __init__(
        self, feature: str, library: str, extra: str, cause: ImportError | None = None
    ) -> None:
        missing = cause.name if cause is not None and cause.name else library
        super().__init__(
            f"{feature} needs {library}, which is not installed (no module named {missing!r}): "
            + install_hint(extra),
            name=missing,
        )
        #: The extra whose installation provides the missing library.
        self.extra = extra
