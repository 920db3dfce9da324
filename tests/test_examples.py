"""Every example runs on its own, exits by itself, and prints what it shows."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def run_example(name: str) -> str:
    proc = subprocess.run(
        [sys.executable, str(EXAMPLES / name)], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


#: example -> the lines (or parts of lines) it must print, in the order they are checked.
PRINTS: dict[str, list[str]] = {
    "edge_triggered_epoll": [*(f"received: hello world {i}" for i in range(5)), "5 messages"],
    "level_triggered_fd": [
        "received 1000 messages in order",
        "level fd readable after the last message: False",
    ],
    "multipart": [
        "after two of three frames, receiver has a message: False",
        "received frame by frame: [b'header', b'', b'body']",
        "received at once: [b'a', b'b', b'c']",
    ],
    "sync_pubsub": ["updates received per subscriber: [100, 100, 100]"],
    "hwm": [
        "PUSH: queued 20 messages, then send would block",
        "received all 20 of them, nothing dropped",
        "the slow subscriber got 20, 980 were dropped",
    ],
    "interop_pyzmq": [
        "libzmq REP got: 'ping from zloop'",
        "zloop REQ got: 'pong from libzmq'",
        "[b'multi', b'part']",
    ],
    "proxies": [
        "6 requests answered",
        "publisher received the subscription: b'\\x01weather'",
        "subscriber got 5 weather updates ['20 C', '21 C', '22 C', '23 C', '24 C']",
        "all 30 tasks done",
        # STATISTICS: the queue saw 6 three-frame requests each way, the streamer 30 tasks in.
        "front end received 18 frames, back end 18",
        "front end received 30 frames, back end 0",
        "all three proxies stopped by TERMINATE",
    ],
    "gevent_server": [
        "500 greenlets, each with a REQ socket, talked to one green ROUTER over tcp",
        "1000 replies, all correct, e.g. b'HELLO 1 FROM CLIENT 42'",
    ],
    "tornado_stream": [
        *(f"client got: echo: request {i}" for i in range(5)),
        *(f"async handler: job {i}" for i in range(3)),
        "5 echoes through the ZMQStream, 3 jobs through the async handler",
    ],
    "trio_nursery": [
        "3 tasks sent 30 requests on one DEALER",
        "2 tasks shared the replies: 30 in total",
        "recv under move_on_after(0.2): cancelled = True",
        "the next recv gets the next message whole: b'one more, answered'",
    ],
    "asyncio_service": [
        "50 requests answered by one service, all correct",
        "client 3 got [225, 256, 289, 324, 361]",
        "service cancelled cleanly",
    ],
    "anyio_pump": [
        "anyio on asyncio:",
        "anyio on trio:",
        "  20 jobs through pump -> memory stream -> 2 workers: True",
        "  recv under move_on_after(0.1): cancelled = True, next recv: b'later'",
    ],
    "twisted_service": [
        "  client 0 got [0, 1, 4, 9, 16]",
        "  client 2 got [100, 121, 144, 169, 196]",
        "  recv Deferred cancelled",
        "  next recv: b'sent after the cancel'",
    ],
    "selectors_reactor": [
        *(f"  zloop socket: zmq message {i}" for i in range(5)),
        "  plain socket: bytes on an ordinary socket",
        "reactor stopped after 6 events",
        "  plain socket said b'hello from a socketpair'",
        "  REP answered 'hello selectors'",
        "  REQ got 'HELLO SELECTORS'",
    ],
}
#: Examples that talk to real libzmq.
INTEROP = {"interop_pyzmq"}


@pytest.mark.parametrize(
    "example",
    [pytest.param(n, id=n, marks=[pytest.mark.interop] if n in INTEROP else []) for n in PRINTS],
)
def test_example_prints(example: str) -> None:
    """``examples/<example>.py`` exits 0 and prints every line of :data:`PRINTS`."""
    out = run_example(f"{example}.py")
    for text in PRINTS[example]:
        assert text in out


@pytest.mark.parametrize("argv", [["demo"], ["selfcheck"]])
def test_zloop_command(argv: list[str]) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "zloop", *argv], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count("[ok]") == 3
    assert "FAIL" not in proc.stdout
    if argv == ["demo"]:
        # One table row per path; every loop library and pyzmq are dev dependencies, so every
        # path must run here (none skipped) and pass.
        rows = [line.split() for line in proc.stdout.splitlines() if line.startswith("  ")]
        by_path: dict[str, list[list[str]]] = {}
        for row in rows:
            by_path.setdefault(row[0], []).append(row)
        expected = {"engine": 3, "selectors": 1, "gevent": 1, "tornado": 1, "trio": 1}
        expected |= {"asyncio": 1, "anyio": 1, "twisted": 1, "libzmq": 2, "curve": 1}
        for path, count in expected.items():
            assert len(by_path.get(path, [])) == count, (path, proc.stdout)
            for row in by_path[path]:
                assert row[-1] == "OK", row
                assert int(row[-3].replace(",", "")) > 0  # messages
        assert "13 paths passed, 0 failed, 0 skipped; self-check passed" in proc.stdout


def test_hello_reqrep() -> None:
    out = run_example("hello_reqrep.py")
    assert out.count("server: received 'Hello'") == 5
    assert "client: reply 4 = 'World'" in out


def test_poll_many() -> None:
    out = run_example("poll_many.py")
    assert out.count("task stream: task") == 5
    assert out.count("weather: 10001 ") == 5
    assert "90210" not in out


def test_interrupt_exits_by_itself() -> None:
    """Nobody presses Ctrl-C: the example sends itself the SIGINT and exits cleanly."""
    proc = subprocess.run(
        [sys.executable, str(EXAMPLES / "interrupt.py"), "--after", "0.2"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[1:] == [
        "interrupted: closing the socket and terminating the context",
        "clean exit",
    ]
    assert "in 0.2 s it interrupts itself" in proc.stdout
    assert "Traceback" not in proc.stderr


def test_interrupt_during_blocking_recv() -> None:
    proc = subprocess.Popen(
        [sys.executable, str(EXAMPLES / "interrupt.py"), "--wait"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()  # printed inside the try block, right before recv()
        assert first.startswith("waiting for a message on tcp://127.0.0.1:")
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert "interrupted: closing the socket and terminating the context" in out
    assert "clean exit" in out
    assert "Traceback" not in err


def test_pair_relay() -> None:
    out = run_example("pair_relay.py")
    assert out.splitlines() == [
        "step 1 ready, signalling step 2",
        "step 2 ready, signalling step 3",
        "test successful!",
    ]


def test_multithreaded_server() -> None:
    out = run_example("multithreaded_server.py")
    for i in range(4):
        assert f"client-{i}: 5 replies, e.g. 'client-{i} request 4 -> served by worker-" in out
    assert "20 requests from 4 clients served by" in out
    served = [int(line.split()[-1]) for line in out.splitlines() if line.startswith("  worker-")]
    assert sum(served) == 20, out
    assert "proxy: context terminated, closing its sockets" in out
    assert "clean shutdown: ctx.term() ended the proxy and the workers" in out


def test_monitor() -> None:
    out = run_example("monitor.py")
    events = [line.split()[0] for line in out.splitlines() if line.startswith("  ")]
    assert events == [
        "LISTENING",
        "ACCEPTED",
        "HANDSHAKE_SUCCEEDED",
        "DISCONNECTED",
        "CLOSED",
        "MONITOR_STOPPED",
    ], out
    assert "server got b'hello' from a peer" in out


def test_plain_auth() -> None:
    out = run_example("plain_auth.py")
    assert "server: refused a client, ZAP status 400" in out
    for i in range(3):
        assert f"server: 'request {i}' from user 'admin'" in out
        assert f"client: 'reply {i}'" in out
    assert out.rstrip().endswith("done")


@pytest.mark.interop
def test_ironhouse() -> None:
    out = run_example("ironhouse.py")
    assert "server: refused an unknown client key (ZAP status 400)" in out
    assert out.count("from an authorized libzmq") == 3
    assert "client: 'secret reply 2'" in out
    assert "ironhouse: only the certified client got through" in out
