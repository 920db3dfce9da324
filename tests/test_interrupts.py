"""A KeyboardInterrupt (any exception a signal handler raises) at any point of a close, a blocked
receive or poll, or a command post leaves zloop consistent: the exception reaches the caller, and
a later ``close()`` and ``Context.term()`` return.

The injector is deterministic: a ``sys.settrace`` hook (opcode events) raises KeyboardInterrupt
at the N-th point inside zloop's own code where CPython may run a signal handler, for every N up
to the number of such points the call passes (Python runs a signal handler only in the main
thread, at the bytecodes listed at ``_CHECKED`` / ``_CALLS``). ``term`` runs in a helper thread with a join timeout, so a hang fails the test instead of
hanging the suite.
"""

from __future__ import annotations

import dis
import os
import signal
import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any

import pytest

import zloop
from zloop.mailbox import Mailbox

_ZLOOP_DIR = os.path.dirname(os.path.abspath(zloop.__file__)) + os.sep
_BOUND_S = 10.0


class _Injected(KeyboardInterrupt):
    """The injected interrupt (a KeyboardInterrupt, so code treats it as Ctrl-C)."""


#: Where CPython 3.11+ may run a signal handler (``_Py_HandlePending``, "the eval breaker"): at a
#: function's RESUME, at a loop's JUMP_BACKWARD and when a CALL of a C function returns (the
#: return of a Python function is not checked). A line event is not such a point: the line event
#: of a ``with`` statement's normal exit comes before ``__exit__`` is called, and raising there
#: leaves the lock held -- something no signal can do.
_CHECKED = frozenset({"RESUME", "JUMP_BACKWARD"})
_CALLS = frozenset({"CALL", "CALL_FUNCTION_EX"})
_points: dict[Any, tuple[frozenset[int], frozenset[int]]] = {}
#: Where the last injection was (function:line), for the failure report.
_where: list[str] = []


def _interruptible(code: Any) -> tuple[frozenset[int], frozenset[int]]:
    """The offsets in ``code`` before which a signal handler may raise, and those of its calls
    (the offset after a call counts only if the callee was not a Python function)."""
    found = _points.get(code)
    if found is None:
        points: set[int] = set()
        calls: set[int] = set()
        after_call = False
        for instr in dis.get_instructions(code):
            if after_call or instr.opname in _CHECKED:
                points.add(instr.offset)
            after_call = instr.opname in _CALLS
            if after_call:
                calls.add(instr.offset)
        found = _points[code] = (frozenset(points), frozenset(calls))
    return found


def _run_interrupted(call: Callable[[], Any], nth: int) -> bool:
    """Run ``call`` raising :class:`_Injected` at the ``nth`` point of zloop code where a signal
    handler could raise; True if it was raised (False: ``call`` ended before that point)."""
    count = 0
    python_callee: dict[FrameType, bool] = {}  # a frame whose last call ran Python code

    def local(frame: FrameType, event: str, arg: Any) -> Any:
        nonlocal count
        if event != "opcode":
            return local
        points, calls = _interruptible(frame.f_code)
        offset = frame.f_lasti
        if offset in calls:
            python_callee.pop(frame, None)
        elif offset in points and not python_callee.pop(frame, False):
            count += 1
            if count == nth:
                sys.settrace(None)
                _where[:] = [f"{frame.f_code.co_qualname}:{frame.f_lineno}"]
                raise _Injected
        return local

    def tracer(frame: FrameType, event: str, arg: Any) -> Any:
        if frame.f_back is not None:
            python_callee[frame.f_back] = True
        if frame.f_code.co_filename.startswith(_ZLOOP_DIR):
            frame.f_trace_lines = False
            frame.f_trace_opcodes = True
            return local
        return None

    sys.settrace(tracer)
    try:
        call()
    except _Injected:
        return True
    finally:
        sys.settrace(None)
    return False


def _in_thread(call: Callable[[], Any], what: str) -> None:
    """Run ``call`` in a helper thread; fail if it does not return within the bound."""
    errors: list[BaseException] = []

    def run() -> None:
        try:
            call()
        except BaseException as exc:  # reported below
            errors.append(exc)

    thread = threading.Thread(target=run, daemon=True, name=f"interrupts-{what}")
    thread.start()
    thread.join(_BOUND_S)
    assert not thread.is_alive(), f"{what} hung"
    assert not errors, f"{what} raised {errors[0]!r}"


def _sweep(scenario: Callable[[int], bool], limit: int = 5000) -> list[str]:
    """Run ``scenario(n)`` for n = 1, 2, ... until it reports that no injection happened;
    returns where it failed (a hang or an inconsistency): "n@function:line: error"."""
    failed: list[str] = []
    for nth in range(1, limit):
        _where[:] = ["-"]
        try:
            injected = scenario(nth)
        except Exception as exc:
            failed.append(f"{nth}@{_where[0]}: {str(exc).splitlines()[0][:80]}")
            continue
        if not injected:
            return failed
    raise AssertionError(f"more than {limit} lines: the sweep did not end")


@pytest.fixture
def linked() -> Iterator[Callable[[], tuple[zloop.Context, zloop.Socket, zloop.Socket]]]:
    """Make a context with a PUSH bound on tcp and a PULL connected to it, handshake done."""
    made: list[zloop.Context] = []

    def make() -> tuple[zloop.Context, zloop.Socket, zloop.Socket]:
        ctx = zloop.Context()
        made.append(ctx)
        push = ctx.socket(zloop.PUSH)
        pull = ctx.socket(zloop.PULL)
        pull.rcvtimeo = 5000
        port = push.bind_to_random_port("tcp://127.0.0.1")
        pull.connect(f"tcp://127.0.0.1:{port}")
        push.send(b"hello")
        assert pull.recv() == b"hello"
        return ctx, push, pull

    yield make
    for ctx in made:  # whatever a failed sweep left: never hang the suite here
        thread = threading.Thread(target=ctx.destroy, kwargs={"linger": 0}, daemon=True)
        thread.start()
        thread.join(_BOUND_S)


def _close_and_term(ctx: zloop.Context, *socks: zloop.Socket) -> None:
    """What a program does after the interrupt: close its sockets again, terminate."""

    def finish() -> None:
        for sock in socks:
            sock.close(linger=0)
        ctx.term()

    _in_thread(finish, "close+term")


def test_close_interrupted_anywhere_then_term_returns(
    linked: Callable[[], tuple[zloop.Context, zloop.Socket, zloop.Socket]],
) -> None:
    def scenario(nth: int) -> bool:
        ctx, push, pull = linked()
        monitor = push.get_monitor_socket()
        injected = _run_interrupted(lambda: push.close(linger=0), nth)
        if push.closed:
            # Looks closed to the program: term alone must finish the close (no retry needed).
            _in_thread(lambda: (pull.close(0), monitor.close(0), ctx.term()), "term")
        else:
            _close_and_term(ctx, push, pull, monitor)
        return injected

    assert _sweep(scenario) == []


def test_blocked_recv_interrupted_anywhere_stays_usable(
    linked: Callable[[], tuple[zloop.Context, zloop.Socket, zloop.Socket]],
) -> None:
    """An interrupt in a recv that reads its connection itself (parks the fd) and waits: the
    socket still receives afterwards, and closes."""

    def scenario(nth: int) -> bool:
        ctx, push, pull = linked()
        pull.rcvtimeo = 30
        push.send(b"a")

        def receive() -> None:
            pull.recv()  # the queued message (or an earlier one read ahead)
            with pytest.raises(zloop.Again):
                pull.recv()  # blocks (reads its connection itself), times out

        injected = _run_interrupted(receive, nth)
        pull.rcvtimeo = int(_BOUND_S * 1000)
        push.send(b"b")
        got: list[bytes] = []
        _in_thread(lambda: got.append(pull.recv()), "recv after the interrupt")
        assert got[0] in (b"a", b"b")
        _close_and_term(ctx, push, pull)
        return injected

    assert _sweep(scenario) == []


def test_blocked_poll_interrupted_anywhere_stays_usable(
    linked: Callable[[], tuple[zloop.Context, zloop.Socket, zloop.Socket]],
) -> None:
    def scenario(nth: int) -> bool:
        ctx, push, pull = linked()
        injected = _run_interrupted(lambda: pull.poll(30), nth)
        push.send(b"b")
        ready: list[int] = []
        _in_thread(lambda: ready.append(pull.poll(int(_BOUND_S * 1000))), "poll after")
        assert ready == [zloop.POLLIN]
        _close_and_term(ctx, push, pull)
        return injected

    assert _sweep(scenario) == []


def test_poller_interrupted_anywhere_stays_usable(
    linked: Callable[[], tuple[zloop.Context, zloop.Socket, zloop.Socket]],
) -> None:
    def scenario(nth: int) -> bool:
        ctx, push, pull = linked()
        poller = zloop.Poller()
        poller.register(pull, zloop.POLLIN)
        injected = _run_interrupted(lambda: poller.poll(30), nth)
        push.send(b"b")
        ready: list[Any] = []
        _in_thread(lambda: ready.append(poller.poll(int(_BOUND_S * 1000))), "Poller.poll after")
        assert ready == [[(pull, zloop.POLLIN)]]
        _close_and_term(ctx, push, pull)
        return injected

    assert _sweep(scenario) == []


def test_mailbox_post_interrupted_anywhere_never_strands_the_command() -> None:
    """A post cut short either queued nothing or queued the command *and* woke the reader."""

    def scenario(nth: int) -> bool:
        mailbox = Mailbox()
        assert mailbox.recv(0) is None  # the owner found it empty: asleep, fd quiet
        ran: list[int] = []
        injected = _run_interrupted(lambda: mailbox.post(lambda: ran.append(1)), nth)
        if mailbox.queue:  # a reader that found it empty and waits on the fd must wake
            assert mailbox.signaler.wait(0), "queued without signalling"
            assert mailbox.recv(0) is not None
        mailbox.close()
        return injected

    assert _sweep(scenario) == []


def test_mailbox_post_interrupted_wakes_a_sleeping_reader() -> None:
    """The reader already waits on the fd (another thread) when the post is interrupted."""

    def scenario(nth: int) -> bool:
        mailbox = Mailbox()
        assert mailbox.recv(0) is None
        got: list[Any] = []
        started = threading.Event()

        def reader() -> None:
            started.set()
            got.append(mailbox.recv(_BOUND_S))

        thread = threading.Thread(target=reader, daemon=True)
        thread.start()
        started.wait()
        injected = _run_interrupted(lambda: mailbox.post(lambda: None), nth)
        queued = bool(mailbox.queue) or bool(got and got[0] is not None)
        if not queued:
            mailbox.post(lambda: None)  # nothing was queued: the next post wakes it
        thread.join(_BOUND_S)
        assert not thread.is_alive()
        assert got[0] is not None, f"stranded (queued={queued})"
        mailbox.close()
        return injected

    assert _sweep(scenario) == []


_PROGRAM = textwrap.dedent(
    """
    import sys, time
    impl = __import__(sys.argv[1])
    ctx = impl.Context()
    pull = ctx.socket(impl.PULL)
    push = ctx.socket(impl.PUSH)
    port = pull.bind_to_random_port("tcp://127.0.0.1")
    push.connect(f"tcp://127.0.0.1:{port}")
    push.send(b"x")
    pull.recv()
    print("ready", flush=True)
    try:
        try:
            if sys.argv[2] == "poll":
                while True:
                    pull.poll(1000)
            else:
                pull.recv()
        finally:
            push.close(linger=0)
            pull.close(linger=0)
            ctx.term()
    except KeyboardInterrupt:
        pass
    """
)


def _sigint_twice(impl: str, call: str, gap_s: float) -> int | None:
    proc = subprocess.Popen(
        [sys.executable, "-c", _PROGRAM, impl, call],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == b"ready"
        proc.send_signal(signal.SIGINT)
        if gap_s:
            threading.Event().wait(gap_s)  # a gap between the signals, not a synchronisation
        proc.send_signal(signal.SIGINT)
        try:
            return proc.wait(20)
        except subprocess.TimeoutExpired:
            return None
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.parametrize("call", ["poll", "recv"])
@pytest.mark.parametrize("impl", ["zloop", pytest.param("zmq", marks=pytest.mark.interop)])
def test_sigint_twice_in_a_blocking_call_exits(impl: str, call: str) -> None:
    """Two quick SIGINTs to a program blocked in poll/recv, the second at varied moments (often
    inside the close/term of its ``finally``): the program exits (with either interrupt)."""
    hung = [
        gap for gap in (0.0, 0.0005, 0.001, 0.002, 0.005) if _sigint_twice(impl, call, gap) is None
    ]
    assert hung == []


@pytest.mark.parametrize("take", ["run_queued", "recv"])
def test_taking_commands_interrupted_anywhere_loses_none(take: str) -> None:
    """Every command either ran or is still queued after an interrupted take."""

    def scenario(nth: int) -> bool:
        mailbox = Mailbox()
        ran: list[int] = []
        for i in range(3):
            mailbox.post(lambda i=i: ran.append(i))

        def run() -> None:
            if take == "run_queued":
                mailbox.run_queued()
            else:
                command = mailbox.recv(0)
                while command is not None:
                    command()
                    command = mailbox.recv(0)

        injected = _run_interrupted(run, nth)
        mailbox.run_queued()
        assert sorted(ran) == [0, 1, 2]
        mailbox.close()
        return injected

    assert _sweep(scenario) == []
