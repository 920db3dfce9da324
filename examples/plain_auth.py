"""PLAIN authentication over REQ/REP, checked by a ZAP handler (zloop.auth.ThreadAuthenticator).

The authenticator binds ``inproc://zeromq.zap.01`` in the context and knows one user. The server
is a PLAIN server (``plain_server = True``): every client's user name and password go to the
authenticator before any message is accepted. A client with the right password gets its replies
(and the server sees its ``User-Id``); a client with a wrong password is refused during the
handshake, which the server's monitor reports as HANDSHAKE_FAILED_AUTH 400.

PLAIN sends the password in clear text: use it on trusted networks, or use CURVE.

Run: python examples/plain_auth.py
"""

from __future__ import annotations

import contextlib

import zloop
from zloop.auth import ThreadAuthenticator
from zloop.monitor import recv_monitor_message


def main() -> None:
    with zloop.Context() as ctx, ThreadAuthenticator(ctx) as auth:
        auth.allow("127.0.0.1")
        auth.configure_plain(domain="*", passwords={"admin": "secret"})

        server = ctx.socket(zloop.REP)
        server.plain_server = True
        server.bind("tcp://127.0.0.1:*")
        endpoint = server.last_endpoint.decode()
        monitor = server.get_monitor_socket()

        # A client with a wrong password: refused during the handshake, nothing delivered.
        intruder = ctx.socket(zloop.REQ)
        intruder.plain_username = b"admin"
        intruder.plain_password = b"guess"
        intruder.connect(endpoint)
        # NOBLOCK: a refusal is final (no reconnect), so once the handshake has failed this socket
        # has no peer left and a blocking send would wait forever (Again: refused already).
        with contextlib.suppress(zloop.Again):
            intruder.send(b"let me in", zloop.NOBLOCK)
        while True:
            event = recv_monitor_message(monitor)
            if event["event"] == zloop.EVENT_HANDSHAKE_FAILED_AUTH:
                print(f"server: refused a client, ZAP status {event['value']}")
                break

        # The right password: requests are served and carry the authenticated user id.
        client = ctx.socket(zloop.REQ)
        client.plain_username = b"admin"
        client.plain_password = b"secret"
        client.connect(endpoint)
        for i in range(3):
            client.send_string(f"request {i}")
            frame = server.recv(copy=False)
            print(f"server: {frame.bytes.decode()!r} from user {frame.get('User-Id')!r}")
            server.send_string(f"reply {i}")
            print(f"client: {client.recv_string()!r}")

        for sock in (intruder, client, monitor, server):
            sock.close(0)
    print("done")


if __name__ == "__main__":
    main()
