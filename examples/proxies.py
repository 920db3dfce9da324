"""The three proxies of seed 004: shared queue, forwarder and streamer — one ``zloop.proxy`` each.

* shared queue (ROUTER front end / DEALER back end): REQ clients reach REP workers they don't know;
* forwarder (XSUB front end / XPUB back end): publishers and subscribers meet in the middle, and
  subscriptions flow *upstream* through the proxy to the publisher;
* streamer (PULL front end / PUSH back end): a pipeline stage spreading tasks over workers.

Each proxy runs in a thread with ``zloop.proxy_steerable`` and a control socket: the main thread
asks it for STATISTICS (message frames counted per side) and then sends TERMINATE to stop it.

Run: python examples/proxies.py
"""

from __future__ import annotations

import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import zloop


@contextmanager
def running_proxy(ctx: zloop.Context, name: str, front: int, back: int) -> Iterator[zloop.Socket]:
    """Run a proxy ``inproc://<name>-front`` <-> ``inproc://<name>-back`` in a thread.

    Yields the control socket (a PAIR); on exit prints the statistics and stops the proxy.
    """
    control = ctx.socket(zloop.PAIR)
    control.bind(f"inproc://{name}-control")
    ready = threading.Event()

    def run() -> None:
        with (
            ctx.socket(front) as frontend,
            ctx.socket(back) as backend,
            ctx.socket(zloop.PAIR) as ctl,
        ):
            frontend.bind(f"inproc://{name}-front")
            backend.bind(f"inproc://{name}-back")
            ctl.connect(f"inproc://{name}-control")
            ready.set()
            zloop.proxy_steerable(frontend, backend, None, ctl)  # returns 0 on TERMINATE

    thread = threading.Thread(target=run)
    thread.start()
    ready.wait()
    try:
        yield control
    finally:
        control.send(b"STATISTICS")
        stats = [struct.unpack("=Q", frame)[0] for frame in control.recv_multipart()]
        print(f"  proxy statistics: front end received {stats[0]} frames, back end {stats[4]}")
        control.send(b"TERMINATE")
        thread.join()
        control.close()


def shared_queue(ctx: zloop.Context) -> None:
    print("shared queue (ROUTER/DEALER): 2 REQ clients, 2 REP workers")
    with running_proxy(ctx, "queue", zloop.ROUTER, zloop.DEALER):
        workers = [ctx.socket(zloop.REP) for _ in range(2)]
        for w in workers:
            w.connect("inproc://queue-back")
        clients = [ctx.socket(zloop.REQ) for _ in range(2)]
        for c in clients:
            c.connect("inproc://queue-front")
        served = [0, 0]
        for round_ in range(3):
            for i, c in enumerate(clients):
                c.send_string(f"client {i} request {round_}")
            for _ in clients:  # answer the two requests, whichever worker got them
                ready = dict(zloop.poll([(w, zloop.POLLIN) for w in workers], 5000))
                for k, w in enumerate(workers):
                    if w in ready:
                        w.send_string(w.recv_string().upper())
                        served[k] += 1
                        break
            for c in clients:
                c.recv_string()
        print(f"  6 requests answered; worker 0 served {served[0]}, worker 1 served {served[1]}")
        for s in workers + clients:
            s.close()


def forwarder(ctx: zloop.Context) -> None:
    print("forwarder (XSUB/XPUB): subscriptions flow upstream, updates downstream")
    with running_proxy(ctx, "fwd", zloop.XSUB, zloop.XPUB):
        # The publisher is an XPUB so we can watch the subscription arrive through the proxy.
        publisher = ctx.socket(zloop.XPUB)
        publisher.connect("inproc://fwd-front")
        subscriber = ctx.socket(zloop.SUB)
        subscriber.connect("inproc://fwd-back")
        subscriber.subscribe(b"weather")
        # This recv is our synchronisation: once the publisher sees the subscription, every hop
        # downstream of it has the filter in place, so nothing published from now on is missed.
        print(f"  publisher received the subscription: {publisher.recv()!r}")
        for i in range(5):
            publisher.send_multipart([b"weather", b"%d C" % (20 + i)])
            publisher.send_multipart([b"sports", b"not subscribed"])
        publisher.send_multipart([b"weather", b"END"])
        got = []
        while (msg := subscriber.recv_multipart())[1] != b"END":
            got.append(msg[1].decode())
        print(f"  subscriber got {len(got)} weather updates {got}, sports never left the publisher")
        publisher.close()
        subscriber.close()


def streamer(ctx: zloop.Context) -> None:
    print("streamer (PULL/PUSH): 30 tasks spread over 2 workers")
    with running_proxy(ctx, "stream", zloop.PULL, zloop.PUSH):
        ventilator = ctx.socket(zloop.PUSH)
        ventilator.connect("inproc://stream-front")
        workers = [ctx.socket(zloop.PULL) for _ in range(2)]
        for w in workers:
            w.connect("inproc://stream-back")
        for i in range(30):
            ventilator.send(b"task %d" % i)
        counts = [0, 0]
        while sum(counts) < 30:
            ready = dict(zloop.poll([(w, zloop.POLLIN) for w in workers], 5000))
            if not ready:
                raise SystemExit("tasks went missing")
            for k, w in enumerate(workers):
                if w in ready:
                    w.recv()
                    counts[k] += 1
        print(f"  all 30 tasks done: worker 0 did {counts[0]}, worker 1 did {counts[1]}")
        for s in [ventilator, *workers]:
            s.close()


def main() -> None:
    with zloop.Context() as ctx:
        shared_queue(ctx)
        forwarder(ctx)
        streamer(ctx)
    print("all three proxies stopped by TERMINATE")


if __name__ == "__main__":
    main()
