"""Synchronised publish-subscribe (seed 002) with topic envelopes.

Subscribers announce themselves over REQ/REP before the publisher starts, so none of them misses
the beginning of the stream. A subscription reaches the publisher some time after ``subscribe()``
returns, so each subscriber first asks the publisher (over REQ) to publish a probe until one arrives
— then it knows it is really subscribed — and only then says "ready". No sleeps anywhere.
Every update is a two-frame envelope: [topic, payload]; topic "B" is filtered out by the publisher.

Run: python examples/sync_pubsub.py
"""

from __future__ import annotations

import threading

import zloop

SUBSCRIBERS = 3
UPDATES = 100


def subscriber(ctx: zloop.Context, pub_ep: str, sync_ep: str, results: list[int]) -> None:
    with ctx.socket(zloop.SUB) as sub, ctx.socket(zloop.REQ) as sync:
        sub.connect(pub_ep)
        sub.subscribe(b"A")
        sync.connect(sync_ep)
        while True:  # ask for probes until one arrives: then the subscription is in place
            sync.send(b"probe")
            sync.recv()
            if sub.poll(100):
                break
        sync.send(b"ready")
        sync.recv()
        count = 0
        while True:
            _topic, payload = sub.recv_multipart()
            if payload == b"END":
                break
            if payload != b"probe":
                count += 1
        results.append(count)


def main() -> None:
    with zloop.Context() as ctx:
        pub = ctx.socket(zloop.PUB)
        pub.bind("tcp://127.0.0.1:*")
        sync = ctx.socket(zloop.REP)
        sync.bind("tcp://127.0.0.1:*")

        results: list[int] = []
        args = (ctx, pub.last_endpoint.decode(), sync.last_endpoint.decode(), results)
        threads = [threading.Thread(target=subscriber, args=args) for _ in range(SUBSCRIBERS)]
        for thread in threads:
            thread.start()

        ready = 0
        while ready < SUBSCRIBERS:
            request = sync.recv()
            if request == b"probe":
                pub.send_multipart([b"A", b"probe"])
            else:
                ready += 1
            sync.send(b"")
        print(f"{SUBSCRIBERS} subscribers synchronised, publishing {UPDATES} updates")
        for i in range(UPDATES):
            pub.send_multipart([b"A", b"update %d" % i])
            pub.send_multipart([b"B", b"not for them"])
        pub.send_multipart([b"A", b"END"])
        for thread in threads:
            thread.join()
        print(f"updates received per subscriber: {results}")
        pub.close()
        sync.close()


if __name__ == "__main__":
    main()
