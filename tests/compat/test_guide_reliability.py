"""The ZeroMQ guide's Python programs, chapters 4-5 and the odd ones, on pyzmq and on zloop.

Lazy/simple/paranoid pirate, majordomo, clone, peering, espresso, tripping and interrupt: written
for this suite in the shape of the guide's examples (see test_guide_programs.py for how), each run
with ``impl`` = zloop and with pyzmq. Failures the guide simulates with sleeps and random crashes
happen here at fixed points, so every run takes the same path.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import OrderedDict
from typing import Any

import pytest
from guide_helpers import TICK_MS, Peers, ends_with_term, term
from zl_testing import DEADLINE, DEADLINE_MS


def _tcp(sock: Any) -> str:
    sock.bind("tcp://127.0.0.1:*")
    return str(sock.last_endpoint.decode())


class LazyPirate:
    """lpclient: a REQ client that polls for the reply with a timeout and, when it times out,
    closes its socket (LINGER 0), opens a new one and resends, up to ``retries`` times."""

    def __init__(self, impl: Any, ctx: Any, endpoint: str, timeout_ms: int, retries: int = 3):
        self.impl, self.ctx, self.endpoint = impl, ctx, endpoint
        self.timeout_ms, self.retries = timeout_ms, retries
        self.retried = 0
        self.on_give_up: Any = None
        self.client = self._connect()

    def _connect(self) -> Any:
        client = self.ctx.socket(self.impl.REQ)
        client.connect(self.endpoint)
        return client

    def request(self, request: bytes) -> bytes:
        self.client.send(request)
        for _ in range(self.retries):
            if (self.client.poll(self.timeout_ms) & self.impl.POLLIN) != 0:
                reply: bytes = self.client.recv()
                return reply
            self.retried += 1
            self.client.setsockopt(self.impl.LINGER, 0)
            self.client.close()
            if self.on_give_up is not None:
                self.on_give_up()
            self.client = self._connect()
            self.client.send(request)
        raise AssertionError(f"server seems to be offline: no reply to {request!r}")

    def close(self) -> None:
        self.client.close(linger=0)


# -- chapter 4 ---------------------------------------------------------------------------------------


def test_lazy_pirate(impl: Any) -> None:
    """lpclient / lpserver: the server is "overloaded" twice (it answers only after the client
    gave up); the client's retries on a fresh socket get every reply, and a late reply never
    reaches the new socket."""
    ctx = impl.Context()
    server = ctx.socket(impl.REP)
    endpoint = _tcp(server)
    gave_up = threading.Event()
    peers = Peers()

    def serve() -> None:
        cycles = 0
        while True:
            request = server.recv()
            cycles += 1
            if request == b"STOP":
                server.send(b"STOP")
                return
            if cycles in (3, 6):  # overloaded: the reply comes after the client gave up
                assert gave_up.wait(DEADLINE)
                gave_up.clear()
            server.send(request)

    peers.start(serve)
    pirate = LazyPirate(impl, ctx, endpoint, timeout_ms=250)
    pirate.on_give_up = gave_up.set
    for sequence in range(1, 8):
        request = str(sequence).encode()
        assert pirate.request(request) == request
    assert pirate.retried == 2
    assert pirate.request(b"STOP") == b"STOP"
    peers.join()
    pirate.close()
    server.close()
    term(ctx)


def _lru_queue(impl: Any, frontend: Any, backend: Any) -> None:
    """spqueue: the load-balancing broker with REQ workers (READY, then replies)."""
    available: list[bytes] = []
    poller = impl.Poller()
    poller.register(backend, impl.POLLIN)

    def run() -> None:
        while True:
            socks = dict(poller.poll())
            if socks.get(backend) == impl.POLLIN:
                worker, _, client, *rest = backend.recv_multipart()
                if not available:
                    poller.register(frontend, impl.POLLIN)
                available.append(worker)
                if client != b"READY":
                    frontend.send_multipart([client, b"", rest[-1]])
            if socks.get(frontend) == impl.POLLIN:
                client, _, request = frontend.recv_multipart()
                backend.send_multipart([available.pop(0), b"", client, b"", request])
                if not available:
                    poller.unregister(frontend)

    ends_with_term(impl, run, frontend, backend)


def test_simple_pirate(impl: Any) -> None:
    """spqueue / spworker with a lazy pirate client: the first worker crashes on its second
    request (it closes without answering); the client's retry is served by a second worker."""
    ctx = impl.Context()
    frontend, backend = ctx.socket(impl.ROUTER), ctx.socket(impl.ROUTER)
    front, back = _tcp(frontend), _tcp(backend)
    servers = Peers()
    servers.start(_lru_queue, impl, frontend, backend)

    def worker(crash_at: int | None) -> None:
        sock = ctx.socket(impl.REQ)
        sock.connect(back)

        def work() -> None:
            sock.send(b"READY")
            cycles = 0
            while True:
                client, empty, request = sock.recv_multipart()
                cycles += 1
                if cycles == crash_at:
                    return  # simulated crash: gone without a word
                sock.send_multipart([client, empty, request])

        ends_with_term(impl, work, sock)

    servers.start(worker, 2)
    pirate = LazyPirate(impl, ctx, front, timeout_ms=250)
    pirate.on_give_up = lambda: servers.start(worker, None)
    for sequence in range(1, 6):
        request = str(sequence).encode()
        assert pirate.request(request) == request
    assert pirate.retried == 1
    pirate.close()
    term(ctx)
    servers.join()


PPP_READY, PPP_HEARTBEAT = b"\x01", b"\x02"
HEARTBEAT_INTERVAL = 0.05  # seconds (the guide: 1 s)
HEARTBEAT_LIVENESS = 3


def _paranoid_queue(impl: Any, frontend: Any, backend: Any, paused: threading.Event) -> None:
    """ppqueue: ROUTER-ROUTER with a queue of workers that expire when silent, and heartbeats to
    the idle ones. While ``paused`` it neither reads its workers nor heartbeats them."""
    workers: OrderedDict[bytes, float] = OrderedDict()  # identity -> expiry

    def ready(identity: bytes) -> None:
        workers.pop(identity, None)
        workers[identity] = time.monotonic() + HEARTBEAT_INTERVAL * HEARTBEAT_LIVENESS

    def run() -> None:
        poll_workers = impl.Poller()
        poll_workers.register(backend, impl.POLLIN)
        poll_both = impl.Poller()
        poll_both.register(frontend, impl.POLLIN)
        poll_both.register(backend, impl.POLLIN)
        heartbeat_at = time.monotonic() + HEARTBEAT_INTERVAL
        while True:
            if paused.is_set():
                poll_workers.poll(TICK_MS)  # (a "frozen" queue: nothing read, nothing sent)
                heartbeat_at = time.monotonic() + HEARTBEAT_INTERVAL
                continue
            poller = poll_both if workers else poll_workers
            socks = dict(poller.poll(HEARTBEAT_INTERVAL * 1000))
            if socks.get(backend) == impl.POLLIN:
                identity, *msg = backend.recv_multipart()
                ready(identity)
                if msg not in ([PPP_READY], [PPP_HEARTBEAT]):
                    frontend.send_multipart(msg)
            if socks.get(frontend) == impl.POLLIN:
                request = frontend.recv_multipart()
                identity, _ = workers.popitem(last=False)
                backend.send_multipart([identity, *request])
            now = time.monotonic()
            if now >= heartbeat_at:
                for identity in workers:
                    backend.send_multipart([identity, PPP_HEARTBEAT])
                heartbeat_at = now + HEARTBEAT_INTERVAL
            for identity, expiry in list(workers.items()):
                if expiry < now:
                    del workers[identity]  # a silent worker is presumed dead

    ends_with_term(impl, run, frontend, backend)


def test_paranoid_pirate(impl: Any) -> None:
    """ppqueue / ppworker: DEALER workers heartbeat with the queue and, when the queue falls
    silent, reconnect on a new socket; a crashed worker expires from the queue; a lazy pirate
    client gets every reply through all of it."""
    ctx = impl.Context()
    frontend, backend = ctx.socket(impl.ROUTER), ctx.socket(impl.ROUTER)
    front, back = _tcp(frontend), _tcp(backend)
    paused = threading.Event()
    reconnects: list[int] = []
    reconnected = threading.Event()
    servers = Peers()
    servers.start(_paranoid_queue, impl, frontend, backend, paused)

    def worker(number: int, crash_at: int | None) -> None:
        def connect() -> Any:
            sock = ctx.socket(impl.DEALER)
            sock.connect(back)
            sock.send(PPP_READY)
            return sock

        sock = connect()

        def work() -> None:
            nonlocal sock
            liveness, cycles = HEARTBEAT_LIVENESS, 0
            heartbeat_at = time.monotonic() + HEARTBEAT_INTERVAL
            while True:
                if sock.poll(HEARTBEAT_INTERVAL * 1000):
                    frames = sock.recv_multipart()
                    liveness = HEARTBEAT_LIVENESS
                    if len(frames) == 3:  # [client, b"", request]
                        cycles += 1
                        if cycles == crash_at:
                            return  # simulated crash: gone without a word
                        sock.send_multipart(frames)
                    else:
                        assert frames == [PPP_HEARTBEAT]
                else:
                    liveness -= 1
                    if liveness == 0:  # the queue is gone: reconnect on a new socket
                        reconnects.append(number)
                        sock.close(linger=0)
                        sock = connect()
                        reconnected.set()
                        liveness = HEARTBEAT_LIVENESS
                if time.monotonic() >= heartbeat_at:
                    sock.send(PPP_HEARTBEAT)
                    heartbeat_at = time.monotonic() + HEARTBEAT_INTERVAL

        try:
            work()
        except impl.ContextTerminated:
            pass
        finally:
            sock.close(linger=0)

    servers.start(worker, 1, 2)  # serves request 1, crashes on request 2
    pirate = LazyPirate(impl, ctx, front, timeout_ms=500)
    pirate.on_give_up = lambda: servers.start(worker, 2, None)  # the retry finds a new worker
    for sequence in range(1, 6):
        request = str(sequence).encode()
        assert pirate.request(request) == request
    assert pirate.retried == 1
    # The queue freezes for longer than a worker's patience: the live worker reconnects.
    paused.set()
    assert reconnected.wait(DEADLINE), "the worker never noticed the silent queue"
    paused.clear()
    for sequence in range(6, 9):
        request = str(sequence).encode()
        assert pirate.request(request) == request
    assert 1 not in reconnects  # the crashed worker is gone for good
    pirate.close()
    term(ctx)
    servers.join()


MDPC, MDPW = b"MDPC01", b"MDPW01"
W_READY, W_REQUEST, W_REPLY, W_DISCONNECT = b"\x01", b"\x02", b"\x03", b"\x05"


def _majordomo_broker(impl: Any, sock: Any) -> None:
    """mdbroker: one ROUTER for clients (REQ, MDPC01) and workers (DEALER, MDPW01); requests
    queue per service until a worker of that service is waiting; ``mmi.service`` answers
    whether a service exists. (Heartbeating is the paranoid pirate's, tested above.)"""
    waiting: dict[bytes, list[bytes]] = {}
    queued: dict[bytes, list[list[bytes]]] = {}
    service_of: dict[bytes, bytes] = {}

    def dispatch(service: bytes) -> None:
        while waiting.get(service) and queued.get(service):
            worker = waiting[service].pop(0)
            client, body = queued[service].pop(0)
            sock.send_multipart([worker, b"", MDPW, W_REQUEST, client, b"", body])

    def run() -> None:
        while True:
            sender, empty, header, *msg = sock.recv_multipart()
            assert empty == b""
            if header == MDPC:
                service, body = msg
                if service == b"mmi.service":
                    known = b"200" if waiting.get(body) is not None else b"404"
                    sock.send_multipart([sender, b"", MDPC, service, known])
                    continue
                queued.setdefault(service, []).append([sender, body])
                dispatch(service)
            else:
                assert header == MDPW
                command, *rest = msg
                if command == W_READY:
                    (service,) = rest
                    service_of[sender] = service
                    waiting.setdefault(service, []).append(sender)
                    dispatch(service)
                elif command == W_REPLY:
                    client, _, body = rest
                    service = service_of[sender]
                    sock.send_multipart([client, b"", MDPC, service, body])
                    waiting[service].append(sender)
                    dispatch(service)
                elif command == W_DISCONNECT:
                    service = service_of.pop(sender)
                    waiting[service].remove(sender)

    ends_with_term(impl, run, sock)


def test_majordomo(impl: Any) -> None:
    """mdbroker / mdwrkapi / mdcliapi: two "echo" workers behind the broker, a client asking
    ``mmi.service`` and then sending requests to "echo"."""
    ctx = impl.Context()
    broker = ctx.socket(impl.ROUTER)
    endpoint = _tcp(broker)
    servers = Peers()
    servers.start(_majordomo_broker, impl, broker)
    registered = threading.Semaphore(0)

    def worker() -> None:
        sock = ctx.socket(impl.DEALER)
        sock.connect(endpoint)
        sock.send_multipart([b"", MDPW, W_READY, b"echo"])
        registered.release()

        def work() -> None:
            while True:
                empty, header, command, client, _, body = sock.recv_multipart()
                assert (empty, header, command) == (b"", MDPW, W_REQUEST)
                sock.send_multipart([b"", MDPW, W_REPLY, client, b"", body])

        ends_with_term(impl, work, sock)

    for _ in range(2):
        servers.start(worker)
    client = ctx.socket(impl.REQ)
    client.connect(endpoint)
    client.RCVTIMEO = DEADLINE_MS
    assert registered.acquire(timeout=DEADLINE) and registered.acquire(timeout=DEADLINE)
    client.send_multipart([MDPC, b"mmi.service", b"nope"])
    assert client.recv_multipart() == [MDPC, b"mmi.service", b"404"]
    # The workers' READY went out before they released the semaphore, but over other
    # connections: ask until the broker knows the service.
    while True:
        client.send_multipart([MDPC, b"mmi.service", b"echo"])
        if client.recv_multipart()[-1] == b"200":
            break
    for number in range(10):
        client.send_multipart([MDPC, b"echo", b"Hello world %d" % number])
        assert client.recv_multipart() == [MDPC, b"echo", b"Hello world %d" % number]
    client.close()
    term(ctx)
    servers.join()


# -- chapter 5 ----------------------------------------------------------------------------------------


def test_clone(impl: Any) -> None:
    """clonesrv3 / clonecli3: clients PUSH updates to the server, which numbers them, applies them
    to its key-value map and PUBlishes them; a late client asks a ROUTER for a snapshot
    ("ICANHAZ?" ... "KTHXBAI") after subscribing, drops updates it already has, and ends with
    the same map as everyone."""
    ctx = impl.Context()
    snapshot, publisher, collector = (
        ctx.socket(impl.ROUTER),
        ctx.socket(impl.PUB),
        ctx.socket(impl.PULL),
    )
    snap_ep, pub_ep, coll_ep = _tcp(snapshot), _tcp(publisher), _tcp(collector)
    servers = Peers()

    def server() -> None:
        state: dict[bytes, tuple[int, bytes]] = {}
        sequence = 0
        poller = impl.Poller()
        poller.register(collector, impl.POLLIN)
        poller.register(snapshot, impl.POLLIN)

        def run() -> None:
            nonlocal sequence
            while True:
                socks = dict(poller.poll())
                if socks.get(collector) == impl.POLLIN:
                    key, _, body = collector.recv_multipart()
                    sequence += 1
                    state[key] = (sequence, body)
                    publisher.send_multipart([key, str(sequence).encode(), body])
                if socks.get(snapshot) == impl.POLLIN:
                    identity, request = snapshot.recv_multipart()
                    assert request == b"ICANHAZ?"
                    for key, (seq, body) in state.items():
                        snapshot.send_multipart([identity, key, str(seq).encode(), body])
                    snapshot.send_multipart([identity, b"KTHXBAI", str(sequence).encode(), b""])

        ends_with_term(impl, run, snapshot, publisher, collector)

    servers.start(server)

    class Client:
        def __init__(self) -> None:
            self.updates = ctx.socket(impl.SUB)
            self.updates.setsockopt(impl.SUBSCRIBE, b"")
            self.updates.connect(pub_ep)
            self.push = ctx.socket(impl.PUSH)
            self.push.connect(coll_ep)
            self.state: dict[bytes, bytes] = {}
            self.sequence = 0

        def sync(self) -> None:
            request = ctx.socket(impl.DEALER)
            request.connect(snap_ep)
            request.send(b"ICANHAZ?")
            while True:
                key, seq, body = request.recv_multipart()
                if key == b"KTHXBAI":
                    self.sequence = int(seq)
                    break
                self.state[key] = body
            request.close()

        def apply_one(self, timeout_ms: int) -> bytes | None:
            """Apply the next update (the key it set), or None if none came in time."""
            if not self.updates.poll(timeout_ms):
                return None
            key, seq, body = self.updates.recv_multipart()
            if int(seq) > self.sequence:  # older than the snapshot: already applied
                self.sequence = int(seq)
                self.state[key] = body
            return bytes(key)

        def receive_until(self, key: bytes, body: bytes) -> None:
            while self.state.get(key) != body:
                assert self.apply_one(DEADLINE_MS) is not None, "an update went missing"

        def close(self) -> None:
            self.updates.close(linger=0)
            self.push.close(linger=0)

    first = Client()
    for n in range(10):
        first.push.send_multipart([b"key-%d" % (n % 4), b"", b"value-%d" % n])
    first.receive_until(b"key-1", b"value-9")  # (key-1: the last one sent, value 9)
    late = Client()
    late.sync()
    assert late.state == first.state and late.sequence == 10
    # Until its subscription reached the publisher, the late client could miss an update: it
    # announces itself until it sees its own announcement come back.
    seen = False
    deadline = time.monotonic() + DEADLINE
    while not seen:
        assert time.monotonic() < deadline, "the late client never saw its announcement"
        late.push.send_multipart([b"hello-late", b"", b"here"])
        for _ in range(5):
            if late.apply_one(TICK_MS) == b"hello-late":
                seen = True
                break
    for n in range(10, 20):
        first.push.send_multipart([b"key-%d" % (n % 6), b"", b"value-%d" % n])
    for client in (first, late):
        client.receive_until(b"key-1", b"value-19")
    assert late.state == first.state
    first.close()
    late.close()
    term(ctx)
    servers.join()


def test_peering_state_flow(impl: Any) -> None:
    """peering1: three brokers, each PUBlishing its capacity ("name count") and SUBscribing to
    the others, polling with a timeout; each learns the others' state."""
    ctx = impl.Context()
    names = [b"DC1", b"DC2", b"DC3"]
    backends = {name: ctx.socket(impl.PUB) for name in names}
    endpoints = {name: _tcp(sock) for name, sock in backends.items()}
    everyone_knows = threading.Event()
    known: dict[bytes, set[bytes]] = {name: set() for name in names}
    lock = threading.Lock()
    peers = Peers()

    def broker(name: bytes) -> None:
        statebe = backends[name]
        statefe = ctx.socket(impl.SUB)
        statefe.setsockopt(impl.SUBSCRIBE, b"")
        for other in names:
            if other != name:
                statefe.connect(endpoints[other])
        capacity = len(name)
        deadline = time.monotonic() + DEADLINE
        while not everyone_knows.is_set():
            assert time.monotonic() < deadline, f"{name!r} knows only {known[name]}"
            if statefe.poll(TICK_MS):
                peer, available = statefe.recv_multipart()
                assert peer != name and int(available) == len(peer)
                with lock:
                    known[name].add(peer)
                    if all(len(k) == 2 for k in known.values()):
                        everyone_knows.set()
            else:  # a tick without news: tell the others our state
                statebe.send_multipart([name, str(capacity).encode()])
        # State messages still in flight are of no use once everyone knows: with the default
        # LINGER (-1) libzmq's term() was seen waiting past the test's timeout under load (CI).
        statefe.close(linger=0)
        statebe.close(linger=0)

    for name in names:
        peers.start(broker, name)
    peers.join()
    assert all(known[name] == set(names) - {name} for name in names)
    term(ctx)


def test_espresso(impl: Any) -> None:
    """espresso: an XSUB/XPUB proxy with a capture PAIR socket; the listener sees the
    subscriptions going up and the messages coming down.

    The proxy hands the capture copy to the PAIR pipe before it forwards the message, so once the
    subscriber has its messages the copies are queued for the listener, but not yet read by it:
    ``ctx.term()`` makes the listener's pending ``recv`` raise and the queued copies are never
    read (on libzmq as on zloop). So the listener reports when it has seen a subscription and a
    message, and the test waits for that before it stops the publisher and terminates."""
    ctx = impl.Context()
    xsub, xpub = ctx.socket(impl.XSUB), ctx.socket(impl.XPUB)
    xsub_ep, xpub_ep = _tcp(xsub), _tcp(xpub)
    pipe_out, listener = ctx.socket(impl.PAIR), ctx.socket(impl.PAIR)
    listener.bind("inproc://capture")
    pipe_out.connect("inproc://capture")
    stop = threading.Event()
    servers, peers = Peers(), Peers()
    servers.start(_proxy_until_term, impl, xsub, xpub, pipe_out)
    captured: set[bytes] = set()
    wanted = {b"\x01", b"A"}  # a subscription and a message on topic A
    seen_wanted = threading.Event()

    def listen() -> None:
        def run() -> None:
            while True:
                captured.add(listener.recv()[:1])
                if wanted <= captured:
                    seen_wanted.set()

        ends_with_term(impl, run, listener)

    servers.start(listen)

    def publisher() -> None:
        sock = ctx.socket(impl.PUB)
        sock.connect(xsub_ep)
        count = 0
        while not stop.is_set():
            topic = "ABC"[count % 3]
            sock.send_string(f"{topic}-{count:05d}")
            count += 1
        sock.close(linger=0)

    peers.start(publisher)
    subscriber = ctx.socket(impl.SUB)
    subscriber.connect(xpub_ep)
    subscriber.setsockopt(impl.SUBSCRIBE, b"A")
    subscriber.setsockopt(impl.SUBSCRIBE, b"B")
    for _ in range(10):
        assert subscriber.poll(DEADLINE_MS)
        assert subscriber.recv_string()[0] in "AB"
    assert seen_wanted.wait(DEADLINE), f"the listener captured only {sorted(captured)}"
    stop.set()
    peers.join()
    subscriber.close()
    term(ctx)
    servers.join()


def _proxy_until_term(impl: Any, frontend: Any, backend: Any, capture: Any = None) -> None:
    def run() -> None:
        if capture is None:
            impl.proxy(frontend, backend)
        else:
            impl.proxy(frontend, backend, capture)

    ends_with_term(impl, run, *(s for s in (frontend, backend, capture) if s is not None))


def test_tripping(impl: Any) -> None:
    """tripping: a DEALER client, a ROUTER-DEALER proxy broker and a DEALER echo worker; first
    synchronous round trips, then a burst sent before reading any reply. Every reply comes back.

    The replies wait for the client at the broker's ROUTER, which drops what its high-water mark
    cannot hold (libzmq does, even for a burst of 1000 with the default HWMs): the ROUTER's SNDHWM
    and the client's RCVHWM are lifted (0: no limit), as a program sending such bursts must."""
    burst = 10_000
    ctx = impl.Context()
    frontend, backend = ctx.socket(impl.ROUTER), ctx.socket(impl.DEALER)
    frontend.sndhwm = 0
    front, back = _tcp(frontend), _tcp(backend)
    servers = Peers()
    servers.start(_proxy_until_term, impl, frontend, backend)

    def worker() -> None:
        sock = ctx.socket(impl.DEALER)
        sock.connect(back)

        def echo() -> None:
            while True:
                sock.send_multipart(sock.recv_multipart())

        ends_with_term(impl, echo, sock)

    servers.start(worker)
    client = ctx.socket(impl.DEALER)
    client.RCVTIMEO = DEADLINE_MS
    client.rcvhwm = 0
    client.connect(front)
    for _ in range(100):
        client.send(b"hello")
        assert client.recv() == b"hello"
    for _ in range(burst):
        client.send(b"hello")
    received = 0
    try:
        for _ in range(burst):
            client.recv()
            received += 1
    except impl.Again:
        pass
    client.close(linger=0)
    term(ctx)
    servers.join()
    assert received == burst


# -- interrupt -------------------------------------------------------------------------------------

_INTERRUPTED = """
import sys
import {module} as zmq

context = zmq.Context()
socket = context.socket(zmq.REP)
socket.bind("tcp://127.0.0.1:*")
poller = zmq.Poller()
poller.register(socket, zmq.POLLIN)
try:
    print("ready", flush=True)  # inside the try: a Ctrl-C from here on is handled below
    if sys.argv[1] == "recv":
        socket.recv()
    else:
        poller.poll()
except KeyboardInterrupt:
    print("W: interrupt received, stopping...", flush=True)
finally:
    socket.close()
    context.term()
"""


def _wait_until_sleeping(pid: int) -> None:
    stat = f"/proc/{pid}/task/{pid}/stat"
    deadline = time.monotonic() + DEADLINE
    while True:
        with open(stat) as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        if state == "S":
            return
        assert time.monotonic() < deadline, f"the program never blocked (state {state})"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc (Linux)")
@pytest.mark.parametrize("blocked_in", ["recv", "poll"])
def test_interrupt(impl: Any, blocked_in: str) -> None:
    """interrupt: Ctrl-C (SIGINT) while blocked in ``recv`` or ``Poller.poll`` raises
    KeyboardInterrupt there; the program closes its socket, terminates and exits normally."""
    code = _INTERRUPTED.format(module=impl.__name__)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen(
        [sys.executable, "-c", code, blocked_in],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
        # A SIGINT landing between Python's signal check and the blocking system call would only
        # be handled once that call returns (in pyzmq as in zloop): wait until the main thread
        # sleeps in it.
        _wait_until_sleeping(proc.pid)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=DEADLINE * 2)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "interrupt received" in out
