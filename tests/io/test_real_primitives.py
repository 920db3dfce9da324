"""``zloop._real``: the OS primitives zloop uses whatever gevent or eventlet patched, and the rule
that the rest of zloop takes its threads, locks, waits and OS sockets only from there.

The behaviour under ``patch_all()`` is tested end to end, in fresh interpreters, by
``tests/adapters/test_gevent_monkey_patch.py``; here: the primitives themselves, what they are
after patching, and the source rule.
"""

from __future__ import annotations

import ast
import json
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from zl_testing import DEADLINE

from zloop import _real

ZLOOP = Path(_real.__file__).parent

# -- the rule -------------------------------------------------------------------------------------

#: Modules whose threads, locks and waits gevent/eventlet replace: only _real imports them.
_PATCHED_MODULES = {"threading", "_thread", "select", "selectors", "queue"}
#: ``module.attribute`` uses that are patched (or, for sockets, tied to a patched hub).
_PATCHED_ATTRIBUTES = {
    ("time", "sleep"),
    ("os", "read"),
    ("os", "write"),
    ("os", "close"),
    ("socket", "socket"),
    ("socket", "socketpair"),
    ("socket", "fromfd"),
    ("socket", "create_connection"),
    ("socket", "create_server"),
    ("socket", "getaddrinfo"),
    ("socket", "gethostbyname"),
    ("socket", "gethostbyname_ex"),
    ("socket", "gethostbyaddr"),
    ("socket", "getnameinfo"),
    ("socket", "getfqdn"),
}
#: Not the library: the ``zloop`` command (its demo, its tools in ``cli/``, the measuring code
#: in ``_bench/``) is an application, in a process of its own that nothing monkey-patches.
_EXEMPT = {"_real.py", "__main__.py"}
_EXEMPT_DIRS = {"cli", "_bench"}


def _violations(path: Path, root: Path = ZLOOP.parent) -> list[str]:
    tree = ast.parse(path.read_text(), str(path))
    annotations: set[int] = set()
    for node in ast.walk(tree):  # ``socket.socket`` as a type is fine: only calls and uses count
        if isinstance(node, ast.AnnAssign | ast.arg) and node.annotation is not None:
            annotations.update(id(n) for n in ast.walk(node.annotation))
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.returns is not None:
            annotations.update(id(n) for n in ast.walk(node.returns))
    found: list[str] = []
    for node in ast.walk(tree):
        where = f"{path.relative_to(root)}:{getattr(node, 'lineno', 0)}"
        if isinstance(node, ast.Import):
            found += [f"{where} import {a.name}" for a in node.names if a.name in _PATCHED_MODULES]
        elif isinstance(node, ast.ImportFrom):
            if node.module in _PATCHED_MODULES:
                found.append(f"{where} from {node.module} import ...")
            found += [
                f"{where} from {node.module} import {a.name}"
                for a in node.names
                if (node.module, a.name) in _PATCHED_ATTRIBUTES
            ]
        elif (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and (node.value.id, node.attr) in _PATCHED_ATTRIBUTES
            and id(node) not in annotations
        ):
            found.append(f"{where} {node.value.id}.{node.attr}")
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "accept"
            and not node.args
        ):
            found.append(f"{where} .accept() (use _real.accept)")
    return found


def test_zloop_takes_threads_locks_waits_and_sockets_only_from_real() -> None:
    sources = [
        p
        for p in ZLOOP.rglob("*.py")
        if p.name not in _EXEMPT and not _EXEMPT_DIRS & set(p.relative_to(ZLOOP).parts[:-1])
    ]
    assert len(sources) > 30
    found = [v for path in sources for v in _violations(path)]
    assert not found, "use zloop._real (see its docstring):\n" + "\n".join(found)


def test_the_rule_check_sees_what_it_forbids(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text(
        "import threading, socket, time\n"
        "from selectors import DefaultSelector\n"
        "def f(s: socket.socket) -> socket.socket:\n"
        "    time.sleep(1)\n"
        "    conn, _ = s.accept()\n"
        "    return socket.socket()\n"
    )
    found = _violations(bad, tmp_path)
    kinds = sorted(v.split(" ", 1)[1] for v in found)
    assert kinds == [
        ".accept() (use _real.accept)",
        "from selectors import ...",
        "import threading",
        "socket.socket",
        "time.sleep",
    ]


# -- the primitives ---------------------------------------------------------------------------------


def test_thread_is_an_os_thread_that_can_be_joined() -> None:
    go = _real.Lock()
    go.acquire()
    seen: dict[str, object] = {}

    def run() -> None:
        seen["ident"] = _real.get_ident()
        seen["name"] = threading.current_thread().name
        go.acquire()

    t = _real.Thread(run, "zloop-test-thread")
    assert not t.is_alive() and t.join(0)
    t.start()
    assert t.is_alive()
    assert not t.join(0.01)  # still running (waits on ``go``)
    go.release()
    assert t.join(DEADLINE)
    assert not t.is_alive()
    assert seen == {"ident": t.ident, "name": "zloop-test-thread"}
    assert t.ident != _real.get_ident()
    with pytest.raises(RuntimeError):
        t.start()


def test_thread_cannot_join_itself() -> None:
    errors: list[BaseException] = []
    holder: list[_real.Thread] = []
    started = _real.Event()

    def run() -> None:
        started.wait(DEADLINE)
        try:
            holder[0].join()
        except RuntimeError as exc:
            errors.append(exc)

    t = _real.Thread(run, "self-join")
    holder.append(t)
    t.start()
    started.set()
    assert t.join(DEADLINE)
    assert len(errors) == 1


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_thread_is_not_alive_in_a_forked_child() -> None:
    go = _real.Lock()
    go.acquire()
    t = _real.Thread(lambda: go.acquire(), "parent-only")
    t.start()
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os.write(w, json.dumps([t.is_alive(), t.join()]).encode())
        os._exit(0)
    os.close(w)
    with os.fdopen(r) as f:
        child_view = json.loads(f.read())
    os.waitpid(pid, 0)
    go.release()
    assert t.join(DEADLINE)
    assert child_view == [False, True]


def test_condition_wait_notify_and_timeout() -> None:
    lock = _real.Lock()
    cond = _real.Condition(lock)
    with cond:
        assert cond.wait(0.01) is False  # nobody notifies: times out, lock held again
        assert lock.locked()
    state = {"ready": False}

    def notifier() -> None:
        with cond:
            state["ready"] = True
            cond.notify_all()

    t = _real.Thread(notifier, "notifier")
    with cond:
        t.start()
        while not state["ready"]:
            assert cond.wait(DEADLINE)
    assert t.join(DEADLINE)
    with cond:
        cond.notify_all()  # nobody waits: a no-op


def test_event() -> None:
    ev = _real.Event()
    assert not ev.is_set() and ev.wait(0) is False
    t = _real.Thread(ev.set, "setter")
    t.start()
    assert ev.wait(DEADLINE) is True and ev.is_set()
    assert t.join(DEADLINE)


def test_fd_poller_reports_read_write_and_hangup() -> None:
    a, b = socket.socketpair()
    poller = _real.FdPoller()
    try:
        poller.register(a.fileno(), _real.READ)
        assert poller.poll(0) == []
        b.send(b"x")
        assert poller.poll(DEADLINE) == [(a.fileno(), _real.READ)]
        poller.modify(a.fileno(), _real.WRITE)
        assert poller.poll(DEADLINE) == [(a.fileno(), _real.WRITE)]
        poller.modify(a.fileno(), _real.READ)
        b.close()  # a hang-up shows as both bits, as selectors reports it
        assert poller.poll(DEADLINE) == [(a.fileno(), _real.READ | _real.WRITE)]
        poller.unregister(a.fileno())
        assert poller.poll(0) == []
    finally:
        poller.close()
        a.close()
        b.close()


def test_accept_returns_a_standard_socket() -> None:
    listener = _real.Socket(socket.AF_INET, socket.SOCK_STREAM)
    client = _real.Socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        client.connect(listener.getsockname())
        conn, addr = _real.accept(listener)
        with conn:
            assert type(conn) is socket.socket
            assert addr == client.getsockname()
            client.send(b"hi")
            assert conn.recv(2) == b"hi"
    finally:
        listener.close()
        client.close()


PATCHED_VIEW = r"""
import json, sys
order = sys.argv[1]
from gevent import monkey
if order == "after":
    monkey.patch_all()
from zloop import _real
if order == "before":
    monkey.patch_all()
import _thread, select, socket, time, gevent.lock
print(json.dumps({
    "patched": select.poll is not monkey.get_original("select", "poll"),
    "lock": type(_real.Lock()) is monkey.get_original("_thread", "LockType"),
    "rlock": type(_real.RLock()).__module__,
    "start": _real._start_new_thread is monkey.get_original("_thread", "start_new_thread"),
    "ident": _real.get_ident is monkey.get_original("_thread", "get_ident"),
    "poll": _real.poll is monkey.get_original("select", "poll"),
    "epoll": _real._epoll is monkey.get_original("select", "epoll"),
    "sleep": _real.sleep is monkey.get_original("time", "sleep"),
    "socket": _real.Socket is monkey.get_original("socket", "socket"),
    "getaddrinfo": _real.getaddrinfo is monkey.get_original("socket", "getaddrinfo"),
    "close": _real.close_fd is monkey.get_original("os", "close"),
}))
"""


@pytest.mark.parametrize("order", ["before", "after"])
def test_gevent_originals_whatever_the_import_order(order: str) -> None:
    pytest.importorskip("gevent")
    proc = subprocess.run(
        [sys.executable, "-c", PATCHED_VIEW, order],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    view = json.loads(proc.stdout)
    assert view.pop("patched") is True
    assert view.pop("rlock") == "_thread"
    assert all(view.values()), view
