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


def test_edge_triggered_epoll() -> None:
    out = run_example("edge_triggered_epoll.py")
    for i in range(5):
        assert f"received: hello world {i}" in out
    assert "5 messages" in out


def test_level_triggered_fd() -> None:
    out = run_example("level_triggered_fd.py")
    assert "received 1000 messages in order" in out
    assert "level fd readable after the last message: False" in out


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
        expected |= {"asyncio": 1, "libzmq": 2, "curve": 1}
        for path, count in expected.items():
            assert len(by_path.get(path, [])) == count, (path, proc.stdout)
            for row in by_path[path]:
                assert row[-1] == "OK", row
                assert int(row[-3].replace(",", "")) > 0  # messages
        assert "11 paths passed, 0 failed, 0 skipped; self-check passed" in proc.stdout


def test_hello_reqrep() -> None:
    out = run_example("hello_reqrep.py")
    assert out.count("server: received 'Hello'") == 5
    assert "client: reply 4 = 'World'" in out


def test_poll_many() -> None:
    out = run_example("poll_many.py")
    assert out.count("task stream: task") == 5
    assert out.count("weather: 10001 ") == 5
    assert "90210" not in out


def test_multipart() -> None:
    out = run_example("multipart.py")
    assert "after two of three frames, receiver has a message: False" in out
    assert "received frame by frame: [b'header', b'', b'body']" in out
    assert "received at once: [b'a', b'b', b'c']" in out


def test_interrupt_during_blocking_recv() -> None:
    proc = subprocess.Popen(
        [sys.executable, str(EXAMPLES / "interrupt.py")],
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


def test_sync_pubsub() -> None:
    out = run_example("sync_pubsub.py")
    assert "updates received per subscriber: [100, 100, 100]" in out


def test_hwm() -> None:
    out = run_example("hwm.py")
    assert "PUSH: queued 20 messages, then send would block" in out
    assert "received all 20 of them, nothing dropped" in out
    assert "the slow subscriber got 20, 980 were dropped" in out


@pytest.mark.interop
def test_interop_pyzmq() -> None:
    out = run_example("interop_pyzmq.py")
    assert "libzmq REP got: 'ping from zloop'" in out
    assert "zloop REQ got: 'pong from libzmq'" in out
    assert "[b'multi', b'part']" in out


def test_multithreaded_server() -> None:
    out = run_example("multithreaded_server.py")
    for i in range(4):
        assert f"client-{i}: 5 replies, e.g. 'client-{i} request 4 -> served by worker-" in out
    assert "20 requests from 4 clients served by" in out
    served = [int(line.split()[-1]) for line in out.splitlines() if line.startswith("  worker-")]
    assert sum(served) == 20, out
    assert "proxy: context terminated, closing its sockets" in out
    assert "clean shutdown: ctx.term() ended the proxy and the workers" in out


def test_proxies() -> None:
    out = run_example("proxies.py")
    assert "6 requests answered" in out
    assert "publisher received the subscription: b'\\x01weather'" in out
    assert "subscriber got 5 weather updates ['20 C', '21 C', '22 C', '23 C', '24 C']" in out
    assert "all 30 tasks done" in out
    # STATISTICS: the queue saw 6 three-frame requests each way, the streamer 30 tasks in.
    assert "front end received 18 frames, back end 18" in out
    assert "front end received 30 frames, back end 0" in out
    assert "all three proxies stopped by TERMINATE" in out


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


def test_gevent_server() -> None:
    out = run_example("gevent_server.py")
    assert "500 greenlets, each with a REQ socket, talked to one green ROUTER over tcp" in out
    assert "1000 replies, all correct, e.g. b'HELLO 1 FROM CLIENT 42'" in out


def test_tornado_stream() -> None:
    out = run_example("tornado_stream.py")
    for i in range(5):
        assert f"client got: echo: request {i}" in out
    for i in range(3):
        assert f"async handler: job {i}" in out
    assert "5 echoes through the ZMQStream, 3 jobs through the async handler" in out


def test_trio_nursery() -> None:
    out = run_example("trio_nursery.py")
    assert "3 tasks sent 30 requests on one DEALER" in out
    assert "2 tasks shared the replies: 30 in total" in out
    assert "recv under move_on_after(0.2): cancelled = True" in out
    assert "the next recv gets the next message whole: b'one more, answered'" in out


def test_asyncio_service() -> None:
    out = run_example("asyncio_service.py")
    assert "50 requests answered by one service, all correct" in out
    assert "client 3 got [225, 256, 289, 324, 361]" in out
    assert "service cancelled cleanly" in out


def test_selectors_reactor() -> None:
    out = run_example("selectors_reactor.py")
    for i in range(5):
        assert f"  zloop socket: zmq message {i}" in out
    assert "  plain socket: bytes on an ordinary socket" in out
    assert "reactor stopped after 6 events" in out
    assert "  plain socket said b'hello from a socketpair'" in out
    assert "  REP answered 'hello selectors'" in out
    assert "  REQ got 'HELLO SELECTORS'" in out


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
