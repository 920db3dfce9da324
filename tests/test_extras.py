"""A missing optional library names the extra that installs it.

Each case runs in a fresh interpreter whose import system refuses the extra's libraries (a
meta-path hook raising ``ModuleNotFoundError`` as if they were not installed), so the dev
environment, where every extra is installed, shows what a user without the extra sees.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

#: Installed first on sys.meta_path: the named top-level packages "are not installed".
BLOCKER = """
import sys

class _Blocked:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, _Blocked())
"""


def run_blocked(blocked: set[str], code: str) -> subprocess.CompletedProcess[str]:
    script = f"BLOCKED = {sorted(blocked)!r}\n{BLOCKER}\n{textwrap.dedent(code)}"
    return subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )


IMPORT_AND_REPORT = """
try:
    import {module}
except ImportError as exc:
    print(type(exc).__name__, isinstance(exc, ModuleNotFoundError), getattr(exc, "extra", None))
    print(exc)
else:
    print("imported")
"""


@pytest.mark.parametrize(
    ("module", "blocked", "extra"),
    [
        # trio's adapter imports outcome (a dependency of trio) first: that used to be the error.
        ("zloop.adapters.trio", {"outcome"}, "trio"),
        ("zloop.adapters.trio", {"trio", "outcome"}, "trio"),
        ("zloop.adapters.gevent", {"gevent"}, "gevent"),
        ("zloop.adapters.tornado", {"tornado"}, "tornado"),
        ("zloop.auth.trio", {"trio"}, "trio"),
        ("zloop.auth.gevent", {"gevent"}, "gevent"),
        ("zloop.adapters.anyio", {"anyio"}, "anyio"),
        ("zloop.adapters.twisted", {"twisted"}, "twisted"),
        ("zloop.adapters.twisted", {"zope"}, "twisted"),
    ],
)
def test_adapter_without_its_extra_names_the_extra(
    module: str, blocked: set[str], extra: str
) -> None:
    proc = run_blocked(blocked, IMPORT_AND_REPORT.format(module=module))
    assert proc.returncode == 0, proc.stderr
    first, message = proc.stdout.splitlines()
    assert first == f"MissingExtraError True {extra}"
    assert message.startswith(f"{module} needs {extra}, which is not installed (no module named")
    assert message.endswith(f'install zloop\'s "{extra}" extra (pip install "zloop-zmq[{extra}]")')


def test_adapters_of_the_standard_library_need_no_extra() -> None:
    blocked = {"trio", "outcome", "gevent", "tornado", "nacl", "zmq"}
    code = "import zloop.adapters.asyncio, zloop.adapters.selectors, zloop.auth; print('ok')"
    proc = run_blocked(blocked, code)
    assert proc.stdout.strip() == "ok", proc.stderr


def test_curve_without_pynacl_names_the_extra() -> None:
    code = """
    import zloop
    print(zloop.has("curve"))
    try:
        zloop.curve_keypair()
    except ImportError as exc:
        print(type(exc).__name__, exc)
    sock = zloop.Context.instance().socket(zloop.REP)
    try:
        sock.curve_server = True
    except zloop.ZMQError as exc:
        print(exc.errno == zloop.EINVAL, exc)
    sock.close()
    """
    proc = run_blocked({"nacl"}, code)
    assert proc.returncode == 0, proc.stderr
    has_curve, keypair, option = proc.stdout.splitlines()
    hint = 'install zloop\'s "curve" extra (pip install "zloop-zmq[curve]")'
    assert has_curve == "False"
    assert keypair.startswith("MissingExtraError CURVE security needs PyNaCl, which is not")
    assert keypair.endswith(hint)
    assert option.startswith("True ") and option.endswith(hint)


def test_demo_reports_a_missing_extra_as_skipped() -> None:
    """``zloop demo`` without trio skips the trio row and names the extra (no failure)."""
    proc = run_blocked({"trio", "outcome"}, "from zloop.__main__ import main; main(['demo'])")
    rows = [line.split(None, 1) for line in proc.stdout.splitlines() if line.startswith("  trio")]
    assert len(rows) == 1, proc.stdout + proc.stderr
    assert rows[0][1].rstrip().endswith('skipped: install the "trio" extra'), rows
    assert "0 failed" in proc.stdout
