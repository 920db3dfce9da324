"""The ZeroMQ guide's Python programs, chapters 1-3, run on pyzmq and on zloop.

"pyzmq programs run unchanged" is judged by the programs everybody starts from: the guide's
examples. Each test here is written for this suite (not copied from the guide): it has the shape of
one example -- the same socket types, the same calls (``send_string``, ``Poller``, ``proxy``,
``setsockopt_string(SUBSCRIBE)``, ``recv_multipart``...), the same topology -- with the peers as
threads, and it runs the very same code with ``impl`` = zloop and with pyzmq. Where the guide
sleeps to let peers connect, the tests synchronise on messages instead.
"""

from __future__ import annotations

import random
import threading
import time
from typing import Any

import pytest
from guide_helpers import TICK_MS, Peers, ends_with_term, term
from zl_testing import DEADLINE_MS


def _tcp(sock: Any) -> str:
    sock.bind("tcp://127.0.0.1:*")
    return str(sock.last_endpoint.decode())


# -- chapter 1 -------------------------------------------------------------------------------------


def test_hello_world(impl: Any) -> None:
    """hwserver / hwclient: REQ-REP over tcp, ten round trips."""
    ctx = impl.Context()
    server = ctx.socket(impl.REP)
    endpoint = _tcp(server)
    peers = Peers()

    def serve() -> None:
        for _ in range(10):
            message = server.recv()
            assert message == b"Hello"
            server.send(b"World")

    peers.start(serve)
    client = ctx.socket(impl.REQ)
    client.connect(endpoint)
    for _ in range(10):
        client.send(b"Hello")
        assert client.recv() == b"World"
    peers.join()
    client.close()
    server.close()
    term(ctx)


def test_weather_update(impl: Any) -> None:
    """wuserver / wuclient: PUB of "zipcode temperature humidity" strings, a SUB filtering one
    zipcode with ``setsockopt_string(SUBSCRIBE)`` and averaging what it gets."""
    ctx = impl.Context()
    publisher = ctx.socket(impl.PUB)
    endpoint = _tcp(publisher)
    stop = threading.Event()
    peers = Peers()

    def publish() -> None:
        rng = random.Random(1)
        while not stop.is_set():
            zipcode = rng.randrange(10000, 10010)
            temperature = rng.randrange(-80, 135)
            humidity = rng.randrange(10, 60)
            publisher.send_string(f"{zipcode} {temperature} {humidity}")

    peers.start(publish)
    subscriber = ctx.socket(impl.SUB)
    subscriber.connect(endpoint)
    subscriber.setsockopt_string(impl.SUBSCRIBE, "10001")
    total = 0
    for _ in range(5):
        assert subscriber.poll(DEADLINE_MS)
        zipcode, temperature, _humidity = subscriber.recv_string().split()
        assert zipcode == "10001"
        total += int(temperature)
    assert -80 <= total / 5 < 135
    stop.set()
    peers.join()
    subscriber.close()
    publisher.close()
    term(ctx)


@pytest.mark.parametrize("with_kill_signal", [False, True], ids=["taskwork", "taskwork2"])
def test_divide_and_conquer(impl: Any, with_kill_signal: bool) -> None:
    """taskvent / taskwork / tasksink: a ventilator PUSHes workloads to three workers, which PUSH
    results to a sink; the ventilator first tells the sink how many to expect. taskwork2: the sink
    then PUBlishes "KILL" and the workers, polling both sockets, stop."""
    ctx = impl.Context()
    ventilator = ctx.socket(impl.PUSH)
    sink = ctx.socket(impl.PULL)
    controller = ctx.socket(impl.PUB)
    vent_endpoint, sink_endpoint, control_endpoint = _tcp(ventilator), _tcp(sink), _tcp(controller)
    peers = Peers()
    stopped = threading.Semaphore(0)

    def worker() -> None:
        receiver = ctx.socket(impl.PULL)
        receiver.connect(vent_endpoint)
        sender = ctx.socket(impl.PUSH)
        sender.connect(sink_endpoint)
        control = ctx.socket(impl.SUB)
        control.connect(control_endpoint)
        control.setsockopt(impl.SUBSCRIBE, b"")
        poller = impl.Poller()
        poller.register(receiver, impl.POLLIN)
        poller.register(control, impl.POLLIN)

        def work() -> None:
            while True:
                socks = dict(poller.poll())
                if socks.get(receiver) == impl.POLLIN:
                    workload = int(receiver.recv())
                    sender.send(str(workload * 2).encode())  # the "work"
                if socks.get(control) == impl.POLLIN:
                    assert control.recv() == b"KILL"
                    stopped.release()
                    return

        ends_with_term(impl, work, receiver, sender, control)

    for _ in range(3):
        peers.start(worker)
    rng = random.Random(2)
    tasks = [rng.randrange(1, 100) for _ in range(100)]
    sink_ready = ctx.socket(impl.PUSH)
    sink_ready.connect(sink_endpoint)
    sink_ready.send(b"0")  # the batch starts: the sink may begin counting
    for workload in tasks:
        ventilator.send_string(str(workload))
    # The start signal and the results come over different connections: in any order.
    results = sorted(int(sink.recv()) for _ in range(len(tasks) + 1))
    assert results == sorted([0, *(2 * t for t in tasks)])
    if with_kill_signal:
        # A worker's subscription may not have reached the PUB yet: say it until all stopped.
        stopped_count = 0
        deadline = time.monotonic() + DEADLINE_MS / 1000
        while stopped_count < 3:
            assert time.monotonic() < deadline, f"{stopped_count} of 3 workers stopped"
            controller.send(b"KILL")
            if stopped.acquire(timeout=TICK_MS / 1000):
                stopped_count += 1
    for sock in (ventilator, sink, controller, sink_ready):
        sock.close(linger=0)
    term(ctx)
    peers.join()


# -- chapter 2 -------------------------------------------------------------------------------------


def _request_reply_clients(
    impl: Any, ctx: Any, endpoint: str, peers: Peers, clients: int, requests: int
) -> None:
    def client(number: int) -> None:
        sock = ctx.socket(impl.REQ)
        sock.connect(endpoint)
        for i in range(requests):
            sock.send_string(f"Hello {number}.{i}")
            assert sock.recv_string() == f"World {number}.{i}"
        sock.close()

    for number in range(clients):
        peers.start(client, number)


def _rep_worker(impl: Any, ctx: Any, endpoint: str) -> None:
    sock = ctx.socket(impl.REP)
    sock.connect(endpoint)

    def work() -> None:
        while True:
            message = sock.recv_string()
            sock.send_string(message.replace("Hello", "World"))

    ends_with_term(impl, work, sock)


def test_request_reply_broker(impl: Any) -> None:
    """rrclient / rrworker / rrbroker: a ROUTER-DEALER broker forwarding multipart messages in a
    Poller loop; REQ clients, REP workers."""
    ctx = impl.Context()
    frontend, backend = ctx.socket(impl.ROUTER), ctx.socket(impl.DEALER)
    front, back = _tcp(frontend), _tcp(backend)
    workers, clients = Peers(), Peers()
    for _ in range(2):
        workers.start(_rep_worker, impl, ctx, back)
    _request_reply_clients(impl, ctx, front, clients, clients=3, requests=10)
    poller = impl.Poller()
    poller.register(frontend, impl.POLLIN)
    poller.register(backend, impl.POLLIN)
    replies = 0
    while replies < 30:
        socks = dict(poller.poll(DEADLINE_MS))
        assert socks, "the broker got nothing"
        if socks.get(frontend) == impl.POLLIN:
            backend.send_multipart(frontend.recv_multipart())
        if socks.get(backend) == impl.POLLIN:
            frontend.send_multipart(backend.recv_multipart())
            replies += 1
    clients.join()
    frontend.close()
    backend.close()
    term(ctx)
    workers.join()


def _proxy_until_term(impl: Any, frontend: Any, backend: Any, capture: Any = None) -> None:
    def run() -> None:
        if capture is None:
            impl.proxy(frontend, backend)
        else:
            impl.proxy(frontend, backend, capture)

    ends_with_term(impl, run, *(s for s in (frontend, backend, capture) if s is not None))


def test_message_queue_broker(impl: Any) -> None:
    """msgqueue: the same broker as ``zmq.proxy(frontend, backend)``, until the context ends."""
    ctx = impl.Context()
    frontend, backend = ctx.socket(impl.ROUTER), ctx.socket(impl.DEALER)
    front, back = _tcp(frontend), _tcp(backend)
    servers, clients = Peers(), Peers()
    servers.start(_proxy_until_term, impl, frontend, backend)
    for _ in range(2):
        servers.start(_rep_worker, impl, ctx, back)
    _request_reply_clients(impl, ctx, front, clients, clients=3, requests=10)
    clients.join()
    term(ctx)
    servers.join()


def test_multithreaded_server(impl: Any) -> None:
    """mtserver: a ROUTER for tcp clients, a DEALER on inproc://workers, REP workers in threads
    of the same context (``Context.instance()`` style sharing), joined by ``zmq.proxy``."""
    ctx = impl.Context()
    clients_side, workers_side = ctx.socket(impl.ROUTER), ctx.socket(impl.DEALER)
    front = _tcp(clients_side)
    workers_side.bind("inproc://workers")
    servers, clients = Peers(), Peers()
    for _ in range(4):
        servers.start(_rep_worker, impl, ctx, "inproc://workers")
    servers.start(_proxy_until_term, impl, clients_side, workers_side)
    _request_reply_clients(impl, ctx, front, clients, clients=2, requests=10)
    clients.join()
    term(ctx)
    servers.join()


def test_multithreaded_relay(impl: Any) -> None:
    """mtrelay: three steps in three threads chained by PAIR sockets over inproc, each binding
    for the step before it and signalling the one after it once ready."""
    ctx = impl.Context()
    peers = Peers()

    def step1() -> None:
        sender = ctx.socket(impl.PAIR)
        sender.connect("inproc://step2")
        sender.send(b"READY")
        sender.close()

    def step2() -> None:
        receiver = ctx.socket(impl.PAIR)
        receiver.bind("inproc://step2")
        peers.start(step1)
        assert receiver.recv() == b"READY"
        sender = ctx.socket(impl.PAIR)
        sender.connect("inproc://step3")
        sender.send(b"READY")
        receiver.close()
        sender.close()

    receiver = ctx.socket(impl.PAIR)
    receiver.bind("inproc://step3")
    peers.start(step2)
    assert receiver.poll(DEADLINE_MS)
    assert receiver.recv() == b"READY"
    peers.join()
    receiver.close()
    term(ctx)


def test_synchronized_publisher(impl: Any) -> None:
    """syncpub / syncsub: a publisher waits for its subscribers to sync over REQ-REP, then sends a
    batch and "END"; every subscriber gets the whole batch. (A subscriber syncs once it has seen
    the publisher's hello: its subscription has then surely arrived.)"""
    ctx = impl.Context()
    publisher, syncservice = ctx.socket(impl.PUB), ctx.socket(impl.REP)
    pub_endpoint, sync_endpoint = _tcp(publisher), _tcp(syncservice)
    subscribers, counts = 3, []
    peers = Peers()

    def subscriber() -> None:
        sub = ctx.socket(impl.SUB)
        sub.connect(pub_endpoint)
        sub.setsockopt(impl.SUBSCRIBE, b"")
        assert sub.poll(DEADLINE_MS) and sub.recv() == b"HELLO"
        sync = ctx.socket(impl.REQ)
        sync.connect(sync_endpoint)
        sync.send(b"")
        sync.recv()
        received = 0
        while True:
            message = sub.recv()
            if message == b"END":
                break
            if message != b"HELLO":
                received += 1
        counts.append(received)
        sub.close()
        sync.close()

    for _ in range(subscribers):
        peers.start(subscriber)
    synced = 0
    deadline = time.monotonic() + DEADLINE_MS / 1000
    while synced < subscribers:
        assert time.monotonic() < deadline, f"{synced} of {subscribers} subscribers synced"
        publisher.send(b"HELLO")
        if syncservice.poll(TICK_MS):
            syncservice.recv()
            syncservice.send(b"")
            synced += 1
    for _ in range(500):
        publisher.send(b"Rhubarb")
    publisher.send(b"END")
    peers.join()
    assert counts == [500] * subscribers
    publisher.close()
    syncservice.close()
    term(ctx)


def test_pubsub_envelopes(impl: Any) -> None:
    """psenvpub / psenvsub: the topic in a frame of its own ([key, contents]); the subscriber
    filters on the key and reads whole messages."""
    ctx = impl.Context()
    publisher = ctx.socket(impl.PUB)
    endpoint = _tcp(publisher)
    stop = threading.Event()
    peers = Peers()

    def publish() -> None:
        while not stop.is_set():
            publisher.send_multipart([b"A", b"We don't want to see this"])
            publisher.send_multipart([b"B", b"We would like to see this"])

    peers.start(publish)
    subscriber = ctx.socket(impl.SUB)
    subscriber.connect(endpoint)
    subscriber.setsockopt(impl.SUBSCRIBE, b"B")
    for _ in range(5):
        assert subscriber.poll(DEADLINE_MS)
        address, contents = subscriber.recv_multipart()
        assert (address, contents) == (b"B", b"We would like to see this")
    stop.set()
    peers.join()
    subscriber.close()
    publisher.close()
    term(ctx)


# -- chapter 3 -------------------------------------------------------------------------------------


def test_identity(impl: Any) -> None:
    """identity: a ROUTER sees a generated 5-byte id for an anonymous REQ and the id a REQ set
    with ``setsockopt(IDENTITY)``, each followed by the empty delimiter."""
    ctx = impl.Context()
    sink = ctx.socket(impl.ROUTER)
    sink.bind("inproc://example")
    anonymous = ctx.socket(impl.REQ)
    anonymous.connect("inproc://example")
    anonymous.send(b"ROUTER uses a generated 5 byte identity")
    identity, empty, body = sink.recv_multipart()
    assert len(identity) == 5 and identity[0] == 0 and empty == b""
    assert body == b"ROUTER uses a generated 5 byte identity"
    identified = ctx.socket(impl.REQ)
    identified.setsockopt(impl.IDENTITY, b"PEER2")
    identified.connect("inproc://example")
    identified.send(b"ROUTER socket uses REQ's socket identity")
    assert sink.recv_multipart() == [b"PEER2", b"", b"ROUTER socket uses REQ's socket identity"]
    for sock in (sink, anonymous, identified):
        sock.close()
    term(ctx)


@pytest.mark.parametrize("worker_type", ["REQ", "DEALER"], ids=["rtreq", "rtdealer"])
def test_router_to_workers(impl: Any, worker_type: str) -> None:
    """rtreq / rtdealer: a ROUTER hands out work to whichever worker asks next ("Hi Boss"), then
    fires them all; a DEALER worker adds the empty delimiter a REQ adds itself."""
    ctx = impl.Context()
    broker = ctx.socket(impl.ROUTER)
    endpoint = _tcp(broker)
    workers, done = 4, []
    peers = Peers()
    dealer = worker_type == "DEALER"

    def worker(number: int) -> None:
        sock = ctx.socket(getattr(impl, worker_type))
        sock.setsockopt_string(impl.IDENTITY, f"worker-{number}")
        sock.connect(endpoint)
        total = 0
        while True:
            if dealer:
                sock.send_multipart([b"", b"Hi Boss"])
                empty, workload = sock.recv_multipart()
                assert empty == b""
            else:
                sock.send(b"Hi Boss")
                workload = sock.recv()
            if workload == b"Fired!":
                break
            total += 1
        done.append(total)
        sock.close()

    for number in range(workers):
        peers.start(worker, number)
    for _ in range(40):
        identity, delimiter, request = broker.recv_multipart()
        assert delimiter == b"" and request == b"Hi Boss"
        broker.send_multipart([identity, b"", b"Work harder"])
    for _ in range(workers):
        identity, _, _ = broker.recv_multipart()
        broker.send_multipart([identity, b"", b"Fired!"])
    peers.join()
    assert sum(done) == 40 and len(done) == workers
    broker.close()
    term(ctx)


def test_load_balancing_broker(impl: Any) -> None:
    """lbbroker: REQ clients and REQ workers around two ROUTERs; the broker always polls its
    workers and polls its clients only while a worker is free (the least-recently-used queue)."""
    ctx = impl.Context()
    frontend, backend = ctx.socket(impl.ROUTER), ctx.socket(impl.ROUTER)
    front, back = _tcp(frontend), _tcp(backend)
    clients, workers = Peers(), Peers()

    def client(number: int) -> None:
        sock = ctx.socket(impl.REQ)
        sock.setsockopt_string(impl.IDENTITY, f"Client-{number}")
        sock.connect(front)
        for _ in range(3):
            sock.send(b"HELLO")
            assert sock.recv() == b"OK"
        sock.close()

    def worker(number: int) -> None:
        sock = ctx.socket(impl.REQ)
        sock.setsockopt_string(impl.IDENTITY, f"Worker-{number}")
        sock.connect(back)

        def work() -> None:
            sock.send(b"READY")
            while True:
                address, empty, request = sock.recv_multipart()
                assert empty == b"" and request == b"HELLO"
                sock.send_multipart([address, b"", b"OK"])

        ends_with_term(impl, work, sock)

    for number in range(5):
        clients.start(client, number)
    for number in range(3):
        workers.start(worker, number)
    available: list[bytes] = []
    poller = impl.Poller()
    poller.register(backend, impl.POLLIN)
    replies = 0
    while replies < 15:
        socks = dict(poller.poll(DEADLINE_MS))
        assert socks, "the broker got nothing"
        if socks.get(backend) == impl.POLLIN:
            worker_id, empty, client_id, *rest = backend.recv_multipart()
            assert empty == b""
            if not available:
                poller.register(frontend, impl.POLLIN)
            available.append(worker_id)
            if client_id != b"READY":
                empty, reply = rest
                frontend.send_multipart([client_id, b"", reply])
                replies += 1
        if socks.get(frontend) == impl.POLLIN:
            client_id, empty, request = frontend.recv_multipart()
            backend.send_multipart([available.pop(0), b"", client_id, b"", request])
            if not available:
                poller.unregister(frontend)
    clients.join()
    frontend.close()
    backend.close()
    term(ctx)
    workers.join()


def test_asynchronous_client_server(impl: Any) -> None:
    """asyncsrv: DEALER clients with identities, a server ROUTER proxied to DEALER workers over
    inproc; a worker answers a request with one to three replies, which the client collects by
    polling between its requests."""
    ctx = impl.Context()
    frontend, backend = ctx.socket(impl.ROUTER), ctx.socket(impl.DEALER)
    front = _tcp(frontend)
    backend.bind("inproc://backend")
    servers, clients = Peers(), Peers()

    def worker() -> None:
        sock = ctx.socket(impl.DEALER)
        sock.connect("inproc://backend")

        def work() -> None:
            while True:
                identity, request = sock.recv_multipart()
                for _ in range(int(request.split(b"#")[1]) % 3 + 1):
                    sock.send_multipart([identity, request])

        ends_with_term(impl, work, sock)

    def client(number: int) -> None:
        sock = ctx.socket(impl.DEALER)
        sock.setsockopt_string(impl.IDENTITY, f"client-{number}")
        sock.connect(front)
        poller = impl.Poller()
        poller.register(sock, impl.POLLIN)
        expected = sum(n % 3 + 1 for n in range(1, 6))
        got = 0
        for request in range(1, 6):
            sock.send_string(f"request #{request}")
            for _ in range(5):  # the guide's client polls a few ticks between requests
                if dict(poller.poll(TICK_MS)).get(sock):
                    sock.recv()
                    got += 1
        while got < expected:
            assert sock.poll(DEADLINE_MS), f"client-{number}: {got}/{expected} replies"
            sock.recv()
            got += 1
        assert not sock.poll(50)  # and no more
        sock.close()

    servers.start(_proxy_until_term, impl, frontend, backend)
    for _ in range(3):
        servers.start(worker)
    for number in range(3):
        clients.start(client, number)
    clients.join()
    term(ctx)
    servers.join()


@pytest.mark.parametrize("style", ["msreader", "mspoller"])
def test_multiple_socket_reader(impl: Any, style: str) -> None:
    """msreader / mspoller: one task reads tasks from a PULL and weather from a SUB, either by
    trying each with DONTWAIT (``except zmq.Again``) or with a Poller."""
    ctx = impl.Context()
    ventilator, weather = ctx.socket(impl.PUSH), ctx.socket(impl.PUB)
    receiver, subscriber = ctx.socket(impl.PULL), ctx.socket(impl.SUB)
    receiver.connect(_tcp(ventilator))
    subscriber.connect(_tcp(weather))
    subscriber.setsockopt(impl.SUBSCRIBE, b"10001")
    for n in range(5):
        ventilator.send_string(str(n))
    tasks: list[str] = []
    updates: list[str] = []
    poller = impl.Poller()
    poller.register(receiver, impl.POLLIN)
    poller.register(subscriber, impl.POLLIN)
    while len(tasks) < 5 or len(updates) < 3:
        weather.send_string("10001 72 20")  # a publisher publishes all the time
        weather.send_string("10002 50 30")
        if style == "msreader":
            try:  # noqa: SIM105 - the guide's idiom, under test
                tasks.append(receiver.recv_string(impl.DONTWAIT))
            except impl.Again:
                pass
            try:  # noqa: SIM105 - the guide's idiom, under test
                updates.append(subscriber.recv_string(impl.DONTWAIT))
            except impl.Again:
                pass
            receiver.poll(1)  # (the guide sleeps here; a poll is a shorter nap)
        else:
            socks = dict(poller.poll(TICK_MS))
            if receiver in socks:
                tasks.append(receiver.recv_string())
            if subscriber in socks:
                updates.append(subscriber.recv_string())
    assert sorted(tasks) == [str(n) for n in range(5)]
    assert all(u == "10001 72 20" for u in updates)
    for sock in (ventilator, weather, receiver, subscriber):
        sock.close(linger=0)
    term(ctx)


def test_common_idioms(impl: Any) -> None:
    """What the guide's programs do besides: ``Context.instance()``, ``zmq.zmq_version()``,
    RCVTIMEO raising ``zmq.Again``, ``ZMQError.errno == zmq.ETERM`` in a worker when the context
    ends, ``send_json``/``recv_json``, ``send_pyobj``/``recv_pyobj``, ``zmq.select``."""
    assert impl.zmq_version().startswith("4.")
    ctx = impl.Context.instance()
    assert impl.Context.instance() is ctx
    a, b = ctx.socket(impl.PAIR), ctx.socket(impl.PAIR)
    a.bind("inproc://idioms")
    b.connect("inproc://idioms")
    b.RCVTIMEO = 10
    with pytest.raises(impl.Again):
        b.recv()
    a.send_json({"temperature": 21, "zip": "10001"})
    assert b.recv_json() == {"temperature": 21, "zip": "10001"}
    a.send_pyobj(("tuple", 1))
    assert b.recv_pyobj() == ("tuple", 1)
    a.send(b"x")
    assert impl.select([b], [], [], 1.0)[0] == [b]
    b.recv()
    errors: list[int] = []
    peers = Peers()
    connected = threading.Event()

    def worker() -> None:
        sock = ctx.socket(impl.PULL)
        sock.connect("inproc://idioms-work")
        connected.set()
        try:
            sock.recv()
        except impl.ZMQError as exc:
            errors.append(exc.errno)
        sock.close()

    sink = ctx.socket(impl.PUSH)
    sink.bind("inproc://idioms-work")
    peers.start(worker)
    assert connected.wait(DEADLINE_MS / 1000)
    for sock in (a, b, sink):
        sock.close()
    term(ctx)
    peers.join()
    assert errors == [impl.ETERM]
    assert impl.Context.instance() is not ctx  # a new one once the old one ended
    term(impl.Context.instance())
