"""Ironhouse: a CURVE server that only admits clients whose certificates are in a directory.

The server and both clients get key pairs written as certificate files (the format libzmq, CZMQ and
pyzmq use). The server's authenticator (zloop.auth.ThreadAuthenticator) trusts the public keys
found in ``authorized/``; only the "good" client's certificate is copied there. Traffic is
encrypted end to end with CurveZMQ.

The good client is a **libzmq** socket (through pyzmq) when pyzmq is installed, showing zloop's CURVE
is the real thing; otherwise it is a zloop socket. The stranger is a zloop client with its own,
unknown key: the server refuses it during the handshake (HANDSHAKE_FAILED_AUTH 400) and it never
delivers a message. Needs PyNaCl (zloop's ``curve`` extra).

Run: python examples/ironhouse.py
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from pathlib import Path

import zloop
from zloop.auth import ThreadAuthenticator, create_certificates, load_certificate
from zloop.monitor import recv_monitor_message

try:
    import zmq

    HAVE_PYZMQ = True
except ImportError:  # the good client is then a zloop socket
    HAVE_PYZMQ = False


def main() -> None:
    if not zloop.has("curve"):
        print('skipped: CURVE needs PyNaCl (install zloop\'s "curve" extra)')
        return
    base = Path(tempfile.mkdtemp())
    keys, authorized = base / "keys", base / "authorized"
    keys.mkdir()
    authorized.mkdir()
    _, server_secret_file = create_certificates(keys, "server")
    good_public_file, good_secret_file = create_certificates(keys, "good")
    _, stranger_secret_file = create_certificates(keys, "stranger")
    shutil.copy(good_public_file, authorized)  # the only client the server will admit

    with zloop.Context() as ctx, ThreadAuthenticator(ctx) as auth:
        auth.configure_curve(domain="*", location=str(authorized))

        server = ctx.socket(zloop.REP)
        server_public, server_secret = load_certificate(server_secret_file)
        assert server_secret is not None
        server.curve_secretkey = server_secret
        server.curve_publickey = server_public
        server.curve_server = True
        server.bind("tcp://127.0.0.1:*")
        endpoint = server.last_endpoint.decode()
        monitor = server.get_monitor_socket()

        # A stranger with a valid CURVE key that is not in authorized/: refused.
        stranger = ctx.socket(zloop.REQ)
        stranger_public, stranger_secret = load_certificate(stranger_secret_file)
        assert stranger_secret is not None
        stranger.curve_publickey, stranger.curve_secretkey = stranger_public, stranger_secret
        stranger.curve_serverkey = server_public
        stranger.connect(endpoint)
        # NOBLOCK: a refusal is final (no reconnect), so once the handshake has failed this socket
        # has no peer left and a blocking send would wait forever (Again: refused already).
        with contextlib.suppress(zloop.Again):
            stranger.send(b"let me in", zloop.NOBLOCK)
        while True:
            event = recv_monitor_message(monitor)
            if event["event"] == zloop.EVENT_HANDSHAKE_FAILED_AUTH:
                print(f"server: refused an unknown client key (ZAP status {event['value']})")
                break

        good_public, good_secret = load_certificate(good_secret_file)
        assert good_secret is not None
        zctx = zmq.Context() if HAVE_PYZMQ else None
        client = zctx.socket(zmq.REQ) if zctx is not None else ctx.socket(zloop.REQ)
        kind = f"libzmq {zmq.zmq_version()}" if zctx is not None else "zloop"
        client.curve_publickey, client.curve_secretkey = good_public, good_secret
        client.curve_serverkey = server_public
        client.connect(endpoint)
        for i in range(3):
            client.send_string(f"secret request {i}")
            frame = server.recv(copy=False)
            user = frame.get("User-Id")
            print(
                f"server: {frame.bytes.decode()!r} from an authorized {kind} client ({user[:8]}...)"
            )
            server.send_string(f"secret reply {i}")
            print(f"client: {client.recv_string()!r}")
        assert not stranger.poll(0), "the stranger must never get a reply"

        client.close(linger=0)
        if zctx is not None:
            zctx.term()
        for sock in (stranger, monitor, server):
            sock.close(linger=0)
    shutil.rmtree(base)
    print("ironhouse: only the certified client got through")


if __name__ == "__main__":
    main()
