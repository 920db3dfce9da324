"""Loop variants that need a process of their own or a look inside the adapter.

* gevent configured process-wide with ``GEVENT_LOOP=libuv`` (chosen when the hub starts: a fresh
  interpreter), driving zloop sockets through the gevent adapter; the conformance suite's
  ``gevent-libuv`` driver covers every scenario on a libuv hub in-process.
* The one scenario that driver skips, reproduced on plain gevent without any socket, so the skip
  stays honest: if a gevent release fixes the starvation, this test says so.
* The gevent backend keeps one io watcher per fd however often the core arms and disarms it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from typing import Any

import pytest
from zl_testing import DEADLINE

import zloop

pytest.importorskip("gevent")

LIBUV_PROGRAM = textwrap.dedent(
    """
    import gevent, zloop
    from zloop.adapters import gevent as zgreen

    loop = type(gevent.get_hub().loop).__module__
    ctx = zgreen.Context()
    rep, req = ctx.socket(zloop.REP), ctx.socket(zloop.REQ)
    rep.bind("tcp://127.0.0.1:*")
    req.connect(rep.last_endpoint.decode())
    pull, push = ctx.socket(zloop.PULL), ctx.socket(zloop.PUSH)
    pull.rcvhwm = push.sndhwm = 2
    pull.bind("inproc://burst")
    push.connect("inproc://burst")

    def serve():
        for _ in range(200):
            rep.send(rep.recv() + b"!")

    def produce():
        for i in range(500):  # blocks at the high-water mark again and again
            push.send(b"%d" % i)

    workers = [gevent.spawn(serve), gevent.spawn(produce)]
    replies = []
    for i in range(200):
        req.send(b"%d" % i)
        replies.append(req.recv())
    got = [pull.recv() for _ in range(500)]
    gevent.joinall(workers, raise_error=True)
    assert replies == [b"%d!" % i for i in range(200)]
    assert got == [b"%d" % i for i in range(500)]
    print(loop, "ok")
    ctx.destroy(linger=0)
    """
)


def test_gevent_adapter_under_gevent_loop_libuv() -> None:
    env = dict(os.environ, GEVENT_LOOP="libuv")
    proc = subprocess.run(
        [sys.executable, "-c", LIBUV_PROGRAM], capture_output=True, text=True, timeout=30, env=env
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["gevent.libuv.loop", "ok"]


STARVATION_PROGRAM = textwrap.dedent(
    """
    import random, sys, time
    import gevent

    rng = random.Random(1234)
    fired = []
    gevent.spawn_later(0.2, fired.append, 1)
    end = time.monotonic() + float(sys.argv[1])
    while not fired and time.monotonic() < end:
        g = gevent.spawn(gevent.sleep, 100)
        for _ in range(rng.randrange(4)):
            gevent.sleep(0)
        g.kill(block=False)
        g.join()
    print("fired" if fired else "starved")
    """
)


@pytest.mark.stress
def test_gevent_libuv_starves_timers_without_zloop() -> None:
    """Why the gevent-libuv driver skips test_stress_cancel_at_random_points: that scenario's
    greenlet pattern, with no socket involved, keeps a 0.2 s timer from ever firing on libuv (for
    3 s here) while libev fires it at once. When this fails, gevent fixed it: drop the skip."""

    def run(loop: str) -> str:
        env = dict(os.environ, GEVENT_LOOP=loop)
        proc = subprocess.run(
            [sys.executable, "-c", STARVATION_PROGRAM, "3"],
            capture_output=True,
            text=True,
            timeout=30,
            env=env,
        )
        assert proc.returncode == 0, proc.stderr
        return proc.stdout.strip()

    assert run("libev-cext") == "fired"
    assert run("libuv") == "starved"


def test_gevent_backend_keeps_one_io_watcher_per_fd(ctx: zloop.Context) -> None:
    """200 receives that each have to wait arm and disarm the fd 200 times: one io watcher."""
    import gevent

    from zloop.adapters import gevent as zgreen

    pull, push = ctx.socket(zloop.PULL), ctx.socket(zloop.PUSH)
    pull.bind("inproc://io-watchers")
    push.connect("inproc://io-watchers")
    green = zgreen.Socket.from_socket(pull)
    fd = pull.fd
    made: list[int] = []

    class Recording(dict[int, Any]):
        def __setitem__(self, fd: int, watcher: Any) -> None:
            made.append(fd)
            super().__setitem__(fd, watcher)

    backend = zgreen.backend()
    backend._io = Recording(backend._io)
    try:

        def later(i: int) -> None:
            push.send(b"%d" % i)

        for i in range(200):
            gevent.spawn_later(0, later, i)
            with gevent.Timeout(DEADLINE):
                assert green.recv() == b"%d" % i
    finally:
        green._release()
        pull.close(linger=0)
        push.close(linger=0)
    assert made == [fd]


def test_readme_qt_adapter_example(tmp_path: Any) -> None:
    """The README's Qt example (the core's four primitives on QSocketNotifier) runs headless,
    when PySide6 is installed (it is not a dependency: this is skipped otherwise)."""
    import re
    from pathlib import Path

    try:
        import PySide6.QtCore  # noqa: F401
    except ImportError:
        pytest.skip("PySide6 is not installed (pip install PySide6-Essentials to run this)")
    readme = Path(__file__).resolve().parents[2] / "README.md"
    (block,) = re.findall(r"```python-qt\n(.*?)```", readme.read_text(), flags=re.S)
    script = tmp_path / "qt_example.py"
    script.write_text(block)
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    proc = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=30, env=env
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[[b'qt', b'0'], [b'qt', b'1'], [b'qt', b'2']]"
