"""zloop under ``gevent.monkey.patch_all()`` (and ``eventlet.monkey_patch()``), with pyzmq as the
reference.

Real gevent programs patch first. zloop's I/O threads, their locks and wake-up fds must stay real
OS primitives whatever was patched (``zloop._real``), so queued messages go out and a peer's
heartbeats are answered while the application blocks in something that does not cooperate (here:
a read of stdin, a C call). Every scenario runs in a fresh interpreter (patching is process-wide),
once with zloop and once with pyzmq (plain ``zmq``, ``zmq.green``) running the same code.

The blocking scenarios are built so they cannot pass by accident: the child sends, then blocks
reading its stdin, and only the peer (this process, libzmq through pyzmq) can release it, which
it does after it has counted what arrived. Whatever the peer received arrived while the child was
blocked.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import time
from typing import Any

import pytest
from zl_testing import DEADLINE

pytest.importorskip("gevent")
pytest.importorskip("zmq")
import zmq
import zmq.utils.monitor

N = 10_000

#: The child: patch (before or after importing the API), then run one scenario.
CHILD = r"""
import json, os, sys
args = json.loads(sys.argv[1])

def patch():
    if args["patcher"] == "eventlet":
        import warnings
        warnings.simplefilter("ignore")  # eventlet's deprecation notice
        import eventlet
        eventlet.monkey_patch()
    else:
        from gevent import monkey
        monkey.patch_all()

if args["order"] == "after":
    patch()
api = args["api"]
if api == "zloop":
    import zloop as zmq
elif api == "zloop-green":
    import zloop.adapters.gevent as zmq
elif api == "zmq":
    import zmq
elif api == "zmq.green":
    import zmq.green as zmq
if args["order"] == "before":
    patch()

def report(**kw):
    print(json.dumps(kw), flush=True)

scenario = args["scenario"]
ctx = zmq.Context()

if scenario == "send-then-block":
    push = ctx.socket(zmq.PUSH)
    push.connect(args["endpoint"])
    for i in range(args["n"]):
        push.send(b"%d" % i)
    report(sent=args["n"])
    # Blocks the OS thread (gevent and eventlet leave sys.stdin alone) until the peer says so.
    line = sys.stdin.readline()
    report(released=line.strip())
    push.close(0)
    ctx.term()

elif scenario == "plain-blocks-thread":
    import gevent
    ticks = [0]
    def worker():
        while True:
            ticks[0] += 1
            gevent.sleep(0)
    gevent.spawn(worker)
    pull = ctx.socket(zmq.PULL)
    pull.rcvtimeo = 300
    pull.bind("inproc://nobody-sends")
    try:
        pull.recv()
    except zmq.Again:
        pass
    after_recv = ticks[0]
    poller = zmq.Poller()
    poller.register(pull, zmq.POLLIN)
    poller.poll(300)
    after_poll = ticks[0]
    gevent.sleep(0.01)  # now let the worker run: it would have, had anything yielded
    report(during_recv=after_recv, during_poll=after_poll - after_recv, after=ticks[0] - after_poll)
    pull.close(0)
    ctx.term()

elif scenario == "thread-authenticator":
    if api == "zloop":
        from zloop.auth.thread import ThreadAuthenticator
    else:
        from zmq.auth.thread import ThreadAuthenticator
    auth = ThreadAuthenticator(ctx)
    auth.start()
    auth.configure_plain(domain="*", passwords={"user": "secret"})
    server = ctx.socket(zmq.PULL)
    server.plain_server = True
    server.rcvtimeo = args["timeout_ms"]
    port = server.bind_to_random_port("tcp://127.0.0.1")
    client = ctx.socket(zmq.PUSH)
    client.plain_username = b"user"
    client.plain_password = b"secret"
    client.connect("tcp://127.0.0.1:%d" % port)
    client.send(b"hello")
    try:
        got = server.recv().decode()
    except zmq.Again:
        got = None
    report(received=got)
    client.close(0)
    server.close(0)
    auth.stop()
    ctx.term()

elif scenario == "green-ping-pong":
    import gevent
    rounds = args["n"]
    rep = ctx.socket(zmq.REP)
    port = rep.bind_to_random_port("tcp://127.0.0.1")
    req = ctx.socket(zmq.REQ)
    req.connect("tcp://127.0.0.1:%d" % port)
    ticks = [0]
    done = [False]
    seen = {}
    def worker():  # works in short slices (a busy sleep(0) loop would delay the hub's polls)
        while not done[0]:
            ticks[0] += 1
            gevent.sleep(0.001)
    def pong():
        for _ in range(rounds):
            rep.send(rep.recv())
    def ping():
        for i in range(rounds):
            if i == 1:
                seen["first"] = ticks[0]
            req.send(b"%d" % i)
            assert req.recv() == b"%d" % i
        seen["last"] = ticks[0]
    w = gevent.spawn(worker)
    jobs = [gevent.spawn(pong), gevent.spawn(ping)]
    gevent.joinall(jobs, timeout=20, raise_error=True)
    done[0] = True
    w.join()
    report(rounds=sum(j.successful() for j in jobs), ticks_during=seen["last"] - seen["first"])
    req.close(0)
    rep.close(0)
    ctx.term()
"""


def _run_child(args: dict[str, Any]) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, json.dumps(args)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 0, proc.stderr
    return dict(json.loads(proc.stdout.splitlines()[-1]))


class BlockedChild:
    """A child that sends ``n`` messages to ``endpoint``, then blocks until :meth:`release`."""

    def __init__(self, api: str, order: str, patcher: str, endpoint: str, n: int) -> None:
        args = {
            "scenario": "send-then-block",
            "api": api,
            "order": order,
            "patcher": patcher,
            "endpoint": endpoint,
            "n": n,
        }
        self.proc = subprocess.Popen(
            [sys.executable, "-c", CHILD, json.dumps(args)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def wait_sent(self) -> None:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()  # the child prints it before it blocks
        if not line:
            self.release()
            pytest.fail(f"the child did not send: {self.proc.stderr}")
        assert json.loads(line) == {"sent": N}

    def release(self) -> None:
        try:
            out, err = self.proc.communicate("go\n", timeout=30)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
        assert self.proc.returncode == 0, err
        assert json.loads(out.splitlines()[-1]) == {"released": "go"}


def _recv_count(sock: Any, n: int, deadline_s: float) -> int:
    """Receive up to ``n`` messages until ``deadline_s`` passes without all of them."""
    got = 0
    deadline = time.monotonic() + deadline_s
    while got < n:
        remaining_ms = int((deadline - time.monotonic()) * 1000)
        if remaining_ms <= 0 or not sock.poll(remaining_ms):
            break
        while got < n:
            try:
                sock.recv(zmq.NOBLOCK)
            except zmq.Again:
                break
            got += 1
    return got


GEVENT_APIS = [
    pytest.param("zloop", id="zloop"),
    pytest.param("zmq", id="pyzmq", marks=pytest.mark.interop),
    pytest.param("zloop-green", id="zloop-green"),
    pytest.param("zmq.green", id="pyzmq-green", marks=pytest.mark.interop),
]

#: eventlet (a dev dependency) with the plain APIs; the green ones are gevent's (eventlet's own
#: ``eventlet.green.zmq`` wraps pyzmq). Not imported here: patching stays in the children.
_HAS_EVENTLET = importlib.util.find_spec("eventlet") is not None
PATCHED_APIS = [
    pytest.param("gevent", *p.values, id=f"gevent-{p.id}", marks=p.marks) for p in GEVENT_APIS
] + [
    pytest.param(
        "eventlet",
        *p.values,
        id=f"eventlet-{p.id}",
        marks=[*p.marks, pytest.mark.skipif(not _HAS_EVENTLET, reason="eventlet is not installed")],
    )
    for p in GEVENT_APIS[:2]
]


@pytest.mark.parametrize("order", ["before", "after"])
@pytest.mark.parametrize(("patcher", "api"), PATCHED_APIS)
def test_io_thread_sends_while_the_application_blocks(
    zctx: Any, patcher: str, api: str, order: str
) -> None:
    """10,000 messages go over tcp while the patched application blocks reading stdin: the I/O
    thread is a real thread (with zloop imported before or after patching)."""
    pull = zctx.socket(zmq.PULL)
    port = pull.bind_to_random_port("tcp://127.0.0.1")
    child = BlockedChild(api, order, patcher, f"tcp://127.0.0.1:{port}", N)
    try:
        child.wait_sent()
        received = _recv_count(pull, N, DEADLINE * 2)
    finally:
        child.release()
    assert received == N, f"{N - received} messages stuck while the application blocked"


#: The peer pings every 50 ms and drops a connection silent for 250 ms after a ping.
HEARTBEAT_IVL_MS = 50
HEARTBEAT_TIMEOUT_MS = 250


@pytest.mark.parametrize(("patcher", "api"), PATCHED_APIS)
def test_heartbeats_answered_while_the_application_blocks(
    zctx: Any, patcher: str, api: str
) -> None:
    """A peer with HEARTBEAT_IVL/HEARTBEAT_TIMEOUT keeps the connection while the patched
    application blocks for several heartbeat timeouts: no DISCONNECTED, nothing lost."""
    pull = zctx.socket(zmq.PULL)
    pull.setsockopt(zmq.HEARTBEAT_IVL, HEARTBEAT_IVL_MS)
    pull.setsockopt(zmq.HEARTBEAT_TIMEOUT, HEARTBEAT_TIMEOUT_MS)
    monitor = pull.get_monitor_socket(zmq.EVENT_HANDSHAKE_SUCCEEDED | zmq.EVENT_DISCONNECTED)
    port = pull.bind_to_random_port("tcp://127.0.0.1")
    child = BlockedChild(api, "after", patcher, f"tcp://127.0.0.1:{port}", N)
    events: list[int] = []
    try:
        child.wait_sent()
        received = _recv_count(pull, N, DEADLINE * 2)
        # Keep the child blocked for 4 heartbeat timeouts more, watching for a disconnect.
        window_end = time.monotonic() + 4 * HEARTBEAT_TIMEOUT_MS / 1000
        while (remaining := window_end - time.monotonic()) > 0:
            if monitor.poll(int(remaining * 1000) + 1):
                events.append(
                    zmq.utils.monitor.parse_monitor_message(monitor.recv_multipart())["event"]
                )
    finally:
        child.release()
        pull.disable_monitor()
        monitor.close(0)
    assert zmq.EVENT_DISCONNECTED not in events, "the peer's heartbeat timed out"
    assert received == N, f"{N - received} messages lost"


@pytest.mark.parametrize(
    "api",
    [pytest.param("zloop", id="zloop"), pytest.param("zmq", id="pyzmq", marks=pytest.mark.interop)],
)
def test_plain_api_blocks_the_os_thread_as_pyzmq_does(api: str) -> None:
    """Under patch_all the plain API's blocking recv and poll block the calling OS thread, as
    pyzmq's (C calls) do: no other greenlet runs meanwhile. The green API is the cooperative one."""
    result = _run_child(
        {"scenario": "plain-blocks-thread", "api": api, "order": "after", "patcher": "gevent"}
    )
    assert result["after"] > 0, "the worker greenlet never ran at all"
    assert result["during_recv"] == 0, result
    assert result["during_poll"] == 0, result


@pytest.mark.parametrize("order", ["before", "after"])
@pytest.mark.parametrize(
    "api",
    [
        pytest.param("zloop-green", id="zloop-green"),
        pytest.param("zmq.green", id="pyzmq-green", marks=pytest.mark.interop),
    ],
)
def test_green_api_stays_cooperative(api: str, order: str) -> None:
    """Two greenlets ping-pong over tcp (each blocking call parks only its greenlet) while a third
    works; the I/O thread being real changes nothing for them."""
    rounds = 200
    result = _run_child(
        {
            "scenario": "green-ping-pong",
            "api": api,
            "order": order,
            "patcher": "gevent",
            "n": rounds,
        }
    )
    assert result["rounds"] == 2, result
    assert result["ticks_during"] > 0, "the worker greenlet did not run during the ping-pong"


@pytest.mark.parametrize(
    "api",
    [pytest.param("zloop", id="zloop"), pytest.param("zmq", id="pyzmq", marks=pytest.mark.interop)],
)
def test_thread_authenticator_serves_while_the_application_blocks(api: str) -> None:
    """⚠ zloop differs from pyzmq on purpose: its ThreadAuthenticator is one of zloop's own threads,
    real whatever was patched, so a PLAIN handshake completes while the application blocks in a
    plain recv. pyzmq's is a ``threading.Thread``, a greenlet after patch_all, which never runs
    while the application blocks in a C call: the handshake cannot complete and recv times out."""
    result = _run_child(
        {
            "scenario": "thread-authenticator",
            "api": api,
            "order": "after",
            "patcher": "gevent",
            "timeout_ms": 5000 if api == "zloop" else 500,
        }
    )
    assert result["received"] == ("hello" if api == "zloop" else None)
