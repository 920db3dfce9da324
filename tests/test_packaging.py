"""``adapters/`` is importable as ``zloop.adapters`` from a checkout and from a built wheel."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

import zloop

ROOT = Path(__file__).resolve().parent.parent


def test_checkout_maps_adapters_folder() -> None:
    import zloop.adapters

    assert Path(zloop.adapters.__file__).resolve() == ROOT / "adapters" / "__init__.py"
    assert zloop.adapters.__name__ == "zloop.adapters"


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


@pytest.mark.timeout(240)
def test_built_wheel_contains_and_imports_adapters(tmp_path: Path) -> None:
    uv = shutil.which("uv")
    dist = tmp_path / "dist"
    if uv:
        cmd = [uv, "build", "--wheel", "--out-dir", str(dist), str(ROOT)]
    else:  # pragma: no cover - CI always has uv
        cmd = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", str(dist), str(ROOT)]
    subprocess.run(cmd, check=True, capture_output=True, timeout=200)
    (wheel,) = dist.glob("zloop-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "zloop/adapters/__init__.py" in names
    assert not any(n.startswith("adapters/") for n in names)

    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    # The core has no runtime dependency, so installing the wheel alone must be enough.
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "--no-deps",
            "--no-index",
            str(wheel),
        ]
        if not uv
        else [uv, "pip", "install", "--python", str(python), "--no-deps", "--offline", str(wheel)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    out = subprocess.run(
        [
            str(python),
            "-c",
            "import zloop, zloop.adapters; print(zloop.__version__, zloop.adapters.__file__)",
        ],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    ).stdout.split()
    assert out[0] == zloop.__version__
    assert Path(out[1]).parts[-3:] == ("zloop", "adapters", "__init__.py")
    assert "site-packages" in out[1]
