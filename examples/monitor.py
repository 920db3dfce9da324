"""A socket monitor: watch a server socket's connection events while a peer connects and leaves.

``sock.get_monitor_socket()`` makes ``sock`` publish its events on an inproc PAIR and returns a
socket connected to it; ``zloop.recv_monitor_message`` decodes each two-frame event (libzmq's
format: the event number and a value, then the endpoint). We start monitoring before ``bind`` so
LISTENING is seen too, let a DEALER connect, talk and leave, then close the server: the monitor
reports every step, ending with MONITOR_STOPPED.

Run: python examples/monitor.py
"""

from __future__ import annotations

import zloop


def show(monitor: zloop.Socket, until: zloop.Event) -> None:
    """Print events until ``until`` arrives (each recv waits with a deadline, never forever)."""
    while True:
        if not monitor.poll(5000):
            raise SystemExit(f"no monitor event within 5 s (waiting for {until.name})")
        event = zloop.recv_monitor_message(monitor)
        kind = event["event"]
        name = kind.name if isinstance(kind, zloop.Event) else f"event {kind:#x}"
        # The value is an fd for LISTENING/ACCEPTED/CLOSED/DISCONNECTED; we print the endpoint only.
        print(f"  {name:<20} {event['endpoint'].decode() or '-'}")
        if kind == until:
            return


def main() -> None:
    with zloop.Context() as ctx:
        server = ctx.socket(zloop.ROUTER)
        monitor = server.get_monitor_socket()  # every event (EVENT_ALL)
        server.bind("tcp://127.0.0.1:*")
        endpoint = server.last_endpoint.decode()
        print(f"server bound at {endpoint}; its events:")
        show(monitor, zloop.Event.LISTENING)

        peer = ctx.socket(zloop.DEALER)
        peer.connect(endpoint)
        peer.send(b"hello")
        _routing_id, body = server.recv_multipart()
        print(f"server got {body!r} from a peer")
        show(monitor, zloop.Event.HANDSHAKE_SUCCEEDED)  # ACCEPTED comes first

        peer.close(linger=0)  # the peer leaves
        show(monitor, zloop.Event.DISCONNECTED)

        server.close()  # closes the listener (CLOSED) and stops the monitor (MONITOR_STOPPED)
        show(monitor, zloop.Event.MONITOR_STOPPED)
        monitor.close()
    print("monitor done")


if __name__ == "__main__":
    main()
