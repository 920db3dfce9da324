"""Process lifetime as programs live it: exit without close/term, dropped sockets and contexts,
``with Context()``, and ``fork()`` (see zloop/lifetime.py).

Each scenario runs the same program on zloop and on pyzmq (libzmq) through the ``impl`` fixture;
what concerns the whole interpreter (exit, fork) runs in a fresh one. The receiving side lives in
this test process, so what "arrived" is counted, never inferred.
"""

from __future__ import annotations

import gc
import struct
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from zl_testing import DEADLINE, DEADLINE_MS, endpoint_for

#: A program that exits must do so well within this (seconds); the hang it guards against is forever.
EXIT_DEADLINE = 30


def _module(impl: Any) -> str:
    return "zmq" if impl.__name__ == "zmq" else "zloop"


def _start(impl: Any, body: str, *args: str) -> subprocess.Popen[str]:
    """Start ``body`` (with ``zmq`` bound to the implementation) in a fresh interpreter."""
    code = f"import sys\nimport {_module(impl)} as zmq\n" + textwrap.dedent(body)
    return subprocess.Popen(
        [sys.executable, "-c", code, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _finish(proc: subprocess.Popen[str]) -> tuple[int, str, str]:
    """Wait for the program to end by itself (killed after EXIT_DEADLINE: a hang)."""
    try:
        out, err = proc.communicate(timeout=EXIT_DEADLINE)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        pytest.fail(f"the program did not exit within {EXIT_DEADLINE} s; stderr: {err}")
    return proc.returncode, out, err


def _run(impl: Any, body: str, *args: str) -> tuple[int, str, str]:
    return _finish(_start(impl, body, *args))


def _receive_until_end(pull: Any) -> list[bytes]:
    got: list[bytes] = []
    while pull.poll(DEADLINE_MS):
        msg = pull.recv()
        got.append(msg)
        if msg == b"END":
            break
    return got


# -- interpreter exit ----------------------------------------------------------------------------

_ENDINGS = {
    # The script falls off its end: nothing closed, nothing terminated.
    "nothing": "",
    # The socket is closed, the context never terminated.
    "close": "push.close()",
    # The socket goes out of scope before the end (collected), the context stays.
    "drop": "del push",
}


@pytest.mark.parametrize("transport", ["tcp", "ipc"])
@pytest.mark.parametrize("ending", list(_ENDINGS))
def test_exit_delivers_everything_sent(
    impl: Any, impl_ctx: Any, ending: str, transport: str, tmp_path: Path
) -> None:
    """20,000 messages and END, then the interpreter exits: every one arrives (LINGER -1).

    pyzmq never terminates a context at exit, so libzmq's delivery is a race with the process's
    end: over tcp its I/O thread usually empties the queue into the large kernel buffers first
    (not always: 19,862 of 20,001 arrived once in a loaded full run), over ipc it does not
    (measured: 18,213 of 20,001). zloop does what libzmq's contract says for closed sockets and
    terminated contexts, on every transport: all of it. The libzmq reference runs over tcp only,
    and shows that what it delivered came in order, once."""
    if transport == "ipc" and impl.__name__ == "zmq":
        pytest.skip(
            "libzmq drops the tail over ipc at exit (pyzmq does not terminate): no reference"
        )
    pull = impl_ctx.socket(impl.PULL)
    pull.bind(endpoint_for(transport, tmp_path))
    proc = _start(
        impl,
        f"""
        ctx = zmq.Context()
        push = ctx.socket(zmq.PUSH)
        push.connect(sys.argv[1])
        for i in range(20000):
            push.send(b"%d" % i)
        push.send(b"END")
        {_ENDINGS[ending]}
        """,
        pull.last_endpoint.decode(),
    )
    got = _receive_until_end(pull)
    code, _, err = _finish(proc)

    assert code == 0, err
    expected = [b"%d" % i for i in range(20000)] + [b"END"]
    if impl.__name__ == "zmq":
        assert got == expected[: len(got)]  # libzmq: a race at exit (see above)
    else:
        assert got == expected


def test_exit_does_not_wait_for_a_peer_that_is_not_there(impl: Any, tmp_path: Path) -> None:
    """Messages queued for an endpoint nobody listens on do not keep the process alive at exit
    (pyzmq: dropped; zloop: a lingering connection that is down is not retried at exit)."""
    code, _, err = _run(
        impl,
        """
        ctx = zmq.Context()
        push = ctx.socket(zmq.PUSH)
        push.connect(sys.argv[1])
        for i in range(10):
            push.send(b"lost", zmq.NOBLOCK)
        """,
        f"ipc://{tmp_path}/nobody.ipc",
    )
    assert code == 0, err


def test_exit_leaves_a_daemon_threads_socket_alone(impl: Any, impl_ctx: Any) -> None:
    """A daemon thread blocked in recv on its own socket: exit neither hangs on it nor breaks it
    (no traceback), and the main thread's socket of the same context still delivers everything."""
    pull = impl_ctx.socket(impl.PULL)
    pull.bind("tcp://127.0.0.1:*")
    proc = _start(
        impl,
        """
        import threading
        ctx = zmq.Context()
        listener = ctx.socket(zmq.PULL)
        listener.bind("tcp://127.0.0.1:*")
        ready = threading.Event()

        def listen():
            ready.set()
            listener.recv()  # blocks until the process ends

        threading.Thread(target=listen, daemon=True).start()
        ready.wait()
        push = ctx.socket(zmq.PUSH)
        push.connect(sys.argv[1])
        for i in range(5000):
            push.send(b"%d" % i)
        push.send(b"END")
        """,
        pull.last_endpoint.decode(),
    )
    got = _receive_until_end(pull)
    code, _, err = _finish(proc)

    assert code == 0, err
    assert "Traceback" not in err
    if impl.__name__ == "zmq":
        # pyzmq does not terminate at exit (see test_exit_delivers_everything_sent): whether the
        # tail arrives is a race with the process's end, lost under load. No reference for it.
        return
    assert len(got) == 5001


def test_exit_with_linger_zero_drops_at_once(impl: Any, tmp_path: Path) -> None:
    """LINGER 0 is honoured at exit: nothing waits, even with a peer that never reads."""
    code, _, err = _run(
        impl,
        """
        ctx = zmq.Context()
        sink = ctx.socket(zmq.PULL)  # never reads: the sender's queue stays full
        sink.rcvhwm = 1
        sink.bind(sys.argv[1])
        push = ctx.socket(zmq.PUSH)
        push.linger = 0
        push.sndhwm = 1
        push.connect(sys.argv[1])
        for i in range(100):
            try:
                push.send(b"x" * 100000, zmq.NOBLOCK)
            except zmq.Again:
                break
        """,
        f"ipc://{tmp_path}/full.ipc",
    )
    assert code == 0, err


# -- dropped sockets and contexts ----------------------------------------------------------------


def _term_within(ctx: Any, seconds: float) -> bool:
    done = threading.Event()

    def term() -> None:
        ctx.term()
        done.set()

    threading.Thread(target=term, daemon=True).start()
    return done.wait(seconds)


def test_dropped_socket_does_not_block_term(impl: Any) -> None:
    ctx = impl.Context()
    push = ctx.socket(impl.PUSH)
    push.connect("tcp://127.0.0.1:9")  # never reachable: nothing to deliver, nothing to wait for
    push.linger = 0
    with pytest.warns(ResourceWarning):
        del push
        gc.collect()

    assert _term_within(ctx, DEADLINE), "term() waited for a socket nobody holds"


def test_dropped_socket_leaves_the_peers_rotation(impl: Any, impl_ctx: Any) -> None:
    """A worker's socket that goes out of scope is closed: its connection ends, and the bound
    PUSH sends everything to the worker that is still there."""
    push = impl_ctx.socket(impl.PUSH)
    push.bind("tcp://127.0.0.1:*")
    endpoint = push.last_endpoint.decode()
    monitor = push.get_monitor_socket()
    keeper = impl_ctx.socket(impl.PULL)
    keeper.connect(endpoint)
    _events(monitor, {impl.EVENT_HANDSHAKE_SUCCEEDED})

    def short_lived_worker() -> None:
        worker = impl_ctx.socket(impl.PULL)
        worker.linger = 0
        worker.connect(endpoint)
        _events(monitor, {impl.EVENT_HANDSHAKE_SUCCEEDED})
        push.send(b"one each")
        push.send(b"one each")
        assert worker.poll(DEADLINE_MS)
        worker.recv()  # and the socket goes out of scope, never closed

    with pytest.warns(ResourceWarning):
        short_lived_worker()
        gc.collect()
    assert keeper.poll(DEADLINE_MS)
    assert keeper.recv() == b"one each"
    _events(monitor, {impl.EVENT_DISCONNECTED})
    if impl.__name__ == "zmq":
        assert not keeper.poll(20)  # libzmq's ~1 ms command throttle (see test_peer_changes)

    for i in range(50):
        push.send(b"%d" % i)

    assert [keeper.recv() for _ in range(50) if keeper.poll(DEADLINE_MS)] == [
        b"%d" % i for i in range(50)
    ]


def _events(monitor: Any, wanted: set[int]) -> int:
    """Read monitor events until one in ``wanted``; return it (fails after the deadline)."""
    while True:
        assert monitor.poll(DEADLINE_MS), f"no event in {wanted}"
        event = struct.unpack("=HI", monitor.recv_multipart()[0][:6])[0]
        if event in wanted:
            return int(event)


def test_with_context_destroys_open_sockets(impl: Any) -> None:
    """Leaving ``with Context()`` with a socket still open does not hang: as pyzmq, it destroys
    the context (closing the socket, with a ResourceWarning)."""
    with pytest.warns(ResourceWarning), impl.Context() as ctx:
        sock = ctx.socket(impl.PUSH)
        sock.bind("tcp://127.0.0.1:*")
    assert sock.closed
    assert ctx.closed


def test_dropped_context_is_destroyed(impl: Any) -> None:
    """A context and socket dropped without term(): the context is destroyed (pyzmq: in
    __del__; zloop: by its reaper), which releases the bound address."""
    ctx = impl.Context()
    sock = ctx.socket(impl.PULL)
    sock.bind("tcp://127.0.0.1:*")
    endpoint = sock.last_endpoint.decode()
    with pytest.warns(ResourceWarning):
        del sock, ctx
        gc.collect()

    other = impl.Context()
    try:
        again = other.socket(impl.PULL)
        deadline = time.monotonic() + DEADLINE
        while True:
            try:
                again.bind(endpoint)
                break
            except impl.ZMQError:
                assert time.monotonic() < deadline, f"{endpoint} was never released"
                assert not again.poll(10)  # let the reaper run
    finally:
        other.destroy(linger=0)


# -- fork ---------------------------------------------------------------------------------------

_FORK_PROGRAM = """
import os
parent = zmq.Context.instance()
parent_push = parent.socket(zmq.PUSH)
parent_push.connect(sys.argv[1])
parent_push.send(b"parent")
pid = os.fork()
if pid == 0:
    child = zmq.Context.instance()
    assert child is not parent, "the child got the parent's instance"
    push = child.socket(zmq.PUSH)
    push.connect(sys.argv[1])
    push.send(b"child")
    push.close()
    child.term()
    os._exit(0)
_, status = os.waitpid(pid, 0)
assert status == 0, status
"""


def test_fork_child_gets_a_fresh_instance(impl: Any, impl_ctx: Any) -> None:
    pull = impl_ctx.socket(impl.PULL)
    pull.bind("tcp://127.0.0.1:*")

    code, _, err = _run(impl, _FORK_PROGRAM, pull.last_endpoint.decode())

    assert code == 0, err
    got = {pull.recv() for _ in range(2) if pull.poll(DEADLINE_MS)}
    assert got == {b"parent", b"child"}


@pytest.mark.parametrize("use", ["send", "recv", "poll", "bind", "EVENTS"])
def test_parent_socket_in_fork_child_fails_clearly(use: str) -> None:
    """zloop only: libzmq leaves the use of a parent's socket in a child undefined (its calls may
    hang or succeed without effect). zloop raises at once, naming the parent process."""
    import zloop

    code, out, err = _run(
        zloop,
        f"""
        import os
        ctx = zmq.Context()
        sock = ctx.socket(zmq.PAIR)
        sock.bind("tcp://127.0.0.1:*")
        pid = os.fork()
        if pid == 0:
            code = 3
            try:
                {{
                    "send": lambda: sock.send(b"x"),
                    "recv": lambda: sock.recv(),
                    "poll": lambda: sock.poll(1000),
                    "bind": lambda: sock.bind("tcp://127.0.0.1:*"),
                    "EVENTS": lambda: sock.EVENTS,
                }}[{use!r}]()
            except zmq.ZMQError as exc:
                code = 0 if "parent of a fork" in str(exc) and exc.errno == zmq.ENOTSUP else 4
            sock.close()
            ctx.term()  # the parent's: returns at once in the child
            os._exit(code)
        _, status = os.waitpid(pid, 0)
        print(os.waitstatus_to_exitcode(status))
        sock.close()
        ctx.term()
        """,
    )
    assert code == 0, err
    assert out.strip() == "0"
