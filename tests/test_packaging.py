"""Packaging and every install route the README documents, each into a fresh virtual environment.

* the checkout maps ``adapters/`` to ``zloop.adapters`` (installed or not);
* the built wheel and sdist carry what they must (LICENSE, py.typed, the adapters, metadata:
  the distribution name ``zloop-zmq``, MPL-2.0, the Python and typing classifiers, the extras);
* the wheel alone in a bare venv: the runtime has no dependency, ``zloop demo`` runs (skipping
  what needs an extra) and an adapter without its extra names the extra;
* ``pip install ".[trio]"`` from the checkout in a plain ``python -m venv`` (no uv anywhere);
* ``uv run --no-dev --extra demo zloop demo`` in a fresh tree installs the runtime and the demo
  extra only (no pytest, mypy or ruff).

Tools: uv when it is on PATH or importable (``python -m uv``); otherwise a venv made here with
``ensurepip`` supplies pip (the test environment itself may be a uv venv without pip) and builds
with hatchling. The uv route is skipped only when there is no uv at all.
"""

from __future__ import annotations

import email.parser
import importlib.util
import os
import shutil
import subprocess
import sys
import tarfile
import venv
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

import zloop

ROOT = Path(__file__).resolve().parent.parent
DIST_NAME = "zloop-zmq"
WHEEL_PREFIX = "zloop_zmq-"


def uv_command() -> list[str] | None:
    """How to run uv here: the ``uv`` on PATH, or ``python -m uv``; None without uv."""
    found = shutil.which("uv")
    if found:
        return [found]
    if importlib.util.find_spec("uv") is not None:
        return [sys.executable, "-m", "uv"]
    return None


def sh(cmd: list[str], cwd: Path | None = None, timeout: float = 200) -> str:
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=cwd)
    assert proc.returncode == 0, f"{cmd}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc.stdout


def bin_of(env: Path, name: str) -> Path:
    return env / ("Scripts" if os.name == "nt" else "bin") / name


class Tools:
    """Builds and installs with uv, or with pip from a venv of its own (never the test venv's)."""

    def __init__(self, workdir: Path, uv: list[str] | None) -> None:
        self.workdir = workdir
        self.uv = uv
        self._pip_env: Path | None = None

    def pip_env(self) -> Path:
        """A venv with pip (ensurepip, offline) and hatchling, for the route without uv."""
        if self._pip_env is None:
            env = self.workdir / "pip-tools"
            venv.EnvBuilder(with_pip=True).create(env)
            sh([str(bin_of(env, "python")), "-m", "pip", "install", "-q", "hatchling>=1.27"])
            self._pip_env = env
        return self._pip_env

    def build(self, out: Path) -> tuple[Path, Path]:
        """(wheel, sdist) of the checkout."""
        if self.uv:
            sh([*self.uv, "build", "--out-dir", str(out), str(ROOT)])
        else:
            python = bin_of(self.pip_env(), "python")
            sh([str(python), "-m", "hatchling", "build", "-d", str(out)], cwd=ROOT)
        (wheel,) = out.glob(f"{WHEEL_PREFIX}*.whl")
        (sdist,) = out.glob(f"{WHEEL_PREFIX}*.tar.gz")
        return wheel, sdist

    def install(self, python: Path, *requirements: str, offline: bool = False) -> None:
        """Install into the venv of ``python`` (``--no-deps`` and no index when ``offline``)."""
        extra = ["--no-deps"] if offline else []
        if self.uv:
            cmd = [*self.uv, "pip", "install", "--python", str(python), *extra]
            cmd += ["--offline"] if offline else []
        else:
            pip = bin_of(self.pip_env(), "python")
            cmd = [str(pip), "-m", "pip", "--python", str(python), "install", "-q", *extra]
            cmd += ["--no-index"] if offline else []
        sh([*cmd, *requirements])


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("packaging")


@pytest.fixture(scope="module")
def tools(workdir: Path) -> Tools:
    return Tools(workdir, uv_command())


@pytest.fixture(scope="module")
def built(tools: Tools, workdir: Path) -> tuple[Path, Path]:
    return tools.build(workdir / "dist")


def bare_venv(where: Path) -> Path:
    """A venv without pip (as ``uv venv`` makes them); its python."""
    venv.EnvBuilder(with_pip=False).create(where)
    return bin_of(where, "python")


def test_checkout_maps_adapters_folder() -> None:
    import zloop.adapters

    assert Path(zloop.adapters.__file__).resolve() == ROOT / "adapters" / "__init__.py"
    assert zloop.adapters.__name__ == "zloop.adapters"
    # The committed symlink (what mypy follows), not the fallback finder of _adapters_path.
    link = ROOT / "zloop" / "adapters"
    assert link.is_symlink() and os.readlink(link) == "../adapters"
    assert Path(zloop.adapters.__file__) == link / "__init__.py"


def test_plain_checkout_without_install(tmp_path: Path) -> None:
    """Running from a checkout with only the source on sys.path (no install) works too."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(ROOT)
    code = "import zloop.adapters, sys; print(zloop.adapters.__name__, zloop.__file__)"
    out = subprocess.run(
        [sys.executable, "-I", "-c", f"import sys; sys.path.insert(0, {str(ROOT)!r}); {code}"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=tmp_path,
        check=True,
    ).stdout
    assert out.startswith("zloop.adapters ")
    assert str(ROOT / "zloop") in out


def test_py_typed_and_license_in_the_tree() -> None:
    assert (ROOT / "zloop" / "py.typed").exists()
    text = (ROOT / "LICENSE").read_text()
    assert text.startswith("Mozilla Public License Version 2.0")
    assert "Exhibit B" in text  # the whole text, to its end


@pytest.mark.timeout(300)
def test_wheel_and_sdist_contents(built: tuple[Path, Path]) -> None:
    wheel, sdist = built
    names = zipfile.ZipFile(wheel).namelist()
    assert "zloop/adapters/__init__.py" in names
    adapter_files = sorted(p.name for p in (ROOT / "adapters").glob("*.py"))
    in_wheel = sorted(
        n.removeprefix("zloop/adapters/") for n in names if n.startswith("zloop/adapters/")
    )
    assert in_wheel == adapter_files  # once each (the symlink adds no second copy)
    assert "zloop/py.typed" in names and "zloop/cli/__init__.py" in names
    assert "zloop/_bench/throughput.py" in names
    assert not any(n.startswith(("adapters/", "tests/", "bench/")) for n in names)
    dist_info = next(n.split("/")[0] for n in names if n.endswith(".dist-info/METADATA"))
    assert f"{dist_info}/licenses/LICENSE" in names
    meta = email.parser.Parser().parsestr(
        zipfile.ZipFile(wheel).read(f"{dist_info}/METADATA").decode()
    )
    assert meta["Name"] == DIST_NAME
    assert meta["Version"] == zloop.__version__
    assert meta["License-Expression"] == "MPL-2.0"
    classifiers = meta.get_all("Classifier")
    for version in ("3.10", "3.11", "3.12", "3.13"):
        assert f"Programming Language :: Python :: {version}" in classifiers
    assert "Typing :: Typed" in classifiers
    assert meta.get_all("Project-URL")
    assert set(meta.get_all("Provides-Extra")) >= {"gevent", "tornado", "trio", "curve", "demo"}
    assert not [r for r in meta.get_all("Requires-Dist") if "extra ==" not in r]  # no runtime dep
    entry = zipfile.ZipFile(wheel).read(f"{dist_info}/entry_points.txt").decode()
    assert "zloop = zloop.cli:main" in entry
    with tarfile.open(sdist) as tar:
        all_members = [m.split("/", 1)[1] for m in tar.getnames() if "/" in m]
    members = set(all_members)
    assert len(all_members) == len(members)
    sdist_adapters = sorted(m for m in all_members if m.startswith(("adapters/", "zloop/adapters")))
    assert sdist_adapters == [f"adapters/{name}" for name in adapter_files]  # once, not via zloop/
    for needed in ("LICENSE", "README.md", "pyproject.toml", "adapters/trio.py", ".ci/run"):
        assert needed in members, needed
    # The documentation's sources travel with the sdist; a local build of it does not.
    assert "docs/conf.py" in members and "docs/readiness.md" in members
    assert not [m for m in members if m.startswith("docs/_build")]
    assert "tests/test_packaging.py" in members and "examples/interrupt.py" in members


@pytest.mark.timeout(300)
def test_wheel_alone_in_a_bare_venv(tools: Tools, built: tuple[Path, Path], tmp_path: Path) -> None:
    """No runtime dependency: the wheel alone installs offline; the demo runs, skipping the rows
    whose extras are missing; an adapter without its extra names the extra."""
    python = bare_venv(tmp_path / "venv")
    tools.install(python, str(built[0]), offline=True)
    code = (
        "import zloop, zloop.adapters, zloop.adapters.asyncio\n"
        "print(zloop.__version__, zloop.adapters.__file__)\n"
        "try:\n    import zloop.adapters.trio\nexcept ImportError as exc:\n    print(exc)\n"
    )
    head, message = sh([str(python), "-c", code], cwd=tmp_path).splitlines()
    version, where = head.split()
    assert version == zloop.__version__
    assert Path(where).parts[-3:] == ("zloop", "adapters", "__init__.py")
    assert "site-packages" in where
    assert message.endswith('install zloop\'s "trio" extra (pip install "zloop-zmq[trio]")')
    script = bin_of(tmp_path / "venv", "zloop")
    assert sh([str(script), "--version"]).startswith(f"zloop {zloop.__version__} ")
    demo = sh([str(script), "demo"], timeout=120)
    assert "0 failed" in demo and "self-check passed" in demo
    assert 'skipped: install the "trio" extra' in demo


@pytest.mark.timeout(300)
def test_fallback_without_uv_builds_and_installs(workdir: Path, tmp_path: Path) -> None:
    """The route without uv (it used to run ``python -m pip`` in the test venv, which a uv venv
    does not have): pip and hatchling come from a venv of their own."""
    no_uv = Tools(tmp_path, None)
    wheel, _ = no_uv.build(tmp_path / "dist")
    python = bare_venv(tmp_path / "venv")
    no_uv.install(python, str(wheel), offline=True)
    assert sh([str(python), "-c", "import zloop; print(zloop.__version__)"]).strip() == (
        zloop.__version__
    )


@pytest.fixture
def checkout_copy(built: tuple[Path, Path], tmp_path: Path) -> Iterator[Path]:
    """A fresh tree as a person gets it (the sdist holds the checkout's files)."""
    with tarfile.open(built[1]) as tar:
        tar.extractall(tmp_path, filter="data")
    (tree,) = (p for p in tmp_path.iterdir() if p.is_dir())
    yield tree


@pytest.mark.timeout(300)
def test_pip_install_from_the_checkout_in_a_plain_venv(checkout_copy: Path, tmp_path: Path) -> None:
    """README: ``python3 -m venv .venv && .venv/bin/pip install ".[trio]"`` -- no uv involved."""
    env = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env)
    pip = [str(bin_of(env, "python")), "-m", "pip"]
    sh([*pip, "install", "-q", ".[trio]"], cwd=checkout_copy)
    code = "import zloop.adapters.trio, trio; print(zloop.adapters.trio.__name__)"
    assert sh([str(bin_of(env, "python")), "-c", code], cwd=tmp_path).strip() == (
        "zloop.adapters.trio"
    )
    assert sh([str(bin_of(env, "zloop")), "--version"]).startswith("zloop ")
    installed = sh([*pip, "list", "--format=freeze"]).lower()
    assert f"{DIST_NAME}==" in installed and "trio==" in installed
    assert "gevent" not in installed and "pytest" not in installed


@pytest.mark.timeout(300)
def test_uv_demo_command_installs_no_dev_tools(tools: Tools, checkout_copy: Path) -> None:
    """README: ``uv run --no-dev --extra demo zloop demo`` on a fresh tree."""
    if tools.uv is None:
        pytest.skip("uv is not installed: the pip routes above are tested instead")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "UV_PROJECT"))}
    proc = subprocess.run(
        [*tools.uv, "run", "--no-dev", "--extra", "demo", "zloop", "demo"],
        cwd=checkout_copy,
        capture_output=True,
        text=True,
        timeout=250,
        env=env,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "13 paths passed, 0 failed, 0 skipped; self-check passed" in proc.stdout
    site = next((checkout_copy / ".venv" / "lib").glob("python*/site-packages"))
    present = {p.name.split("-")[0].lower() for p in site.iterdir()}
    assert {"trio", "gevent", "tornado", "nacl", "zmq"} <= present
    assert not present & {"pytest", "mypy", "ruff", "hypothesis"}, present
