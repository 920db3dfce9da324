"""Every install command the project shows installs this project: ``zloop-zmq``, never ``zloop``.

``zloop`` on PyPI is an unrelated package, so ``pip install zloop[...]`` would install a
stranger's code. The README, DEVELOPERS.md, the examples and the package's messages must name
the distribution ``zloop-zmq`` or install from the checkout (``pip install .``).
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FILES = [
    ROOT / "README.md",
    ROOT / "DEVELOPERS.md",
    *sorted((ROOT / "examples").glob("*.py")),
    *sorted((ROOT / "zloop").rglob("*.py")),
    *sorted((ROOT / "adapters").glob("*.py")),
]
#: ``pip install zloop`` / ``uv add zloop`` / ``zloop[extra]`` as a requirement.
WRONG = re.compile(
    r"(?:pip install|uv add|uv pip install)\s+['\"]?zloop(?![-\w])|(?<![-\w])zloop\["
)


def test_no_install_command_names_the_unrelated_pypi_package() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{n}: {line.strip()}"
        for path in FILES
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if WRONG.search(line)
    ]
    assert not found, "\n".join(found)


def test_the_distribution_name() -> None:
    text = (ROOT / "pyproject.toml").read_text()
    assert re.search(r'^name = "zloop-zmq"$', text, re.M)
    assert "zloop-zmq" in (ROOT / "README.md").read_text()
