"""STREAM sockets (libzmq 4.3 semantics): raw TCP peers addressed by routing id, connect/disconnect
notifications, closing a connection by sending empty data, CONNECT_ROUTING_ID, STREAM_NOTIFY, the
EVENTS/FD guarantee, and interop with a libzmq STREAM socket."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest
from zl_testing import DEADLINE, fd_readable, with_deadlines

import zloop

POLLIN = zloop.POLLIN


def port_of(sock: Any) -> int:
    return int(sock.last_endpoint.decode().rsplit(":", 1)[1])


@pytest.fixture
def server(ctx: zloop.Context) -> zloop.Socket:
    sock = with_deadlines(ctx.socket(zloop.STREAM))
    sock.bind("tcp://127.0.0.1:*")
    return sock


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A plain Python listening socket on loopback."""
    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(8)
    lsock.settimeout(DEADLINE)
    try:
        yield lsock
    finally:
        lsock.close()


def plain_client(port: int) -> socket.socket:
    client = socket.create_connection(("127.0.0.1", port), timeout=DEADLINE)
    return client


def read_until_eof(conn: socket.socket) -> bytes:
    chunks = []
    while True:
        data = conn.recv(65536)
        if not data:
            return b"".join(chunks)
        chunks.append(data)


def recv_bytes(sock: zloop.Socket, rid: bytes, size: int) -> bytes:
    """Collect ``size`` bytes of data from connection ``rid`` (TCP may split or join chunks)."""
    got = b""
    while len(got) < size:
        frid, data = sock.recv_multipart()
        assert frid == rid
        assert data, "unexpected notification"
        got += data
    return got


# -- zloop STREAM server, plain Python client ----------------------------------------------------


def test_server_notifies_connect_then_receives_raw_bytes(server: zloop.Socket) -> None:
    with plain_client(port_of(server)) as client:
        rid, data = server.recv_multipart()
        assert data == b"" and len(rid) == 5 and rid[0] == 0  # connect notification, auto id
        client.sendall(b"hello raw world")
        assert recv_bytes(server, rid, 15) == b"hello raw world"
        server.send_multipart([rid, b"reply bytes"])
        assert client.recv(100) == b"reply bytes"  # written raw: no ZMTP framing


def test_http_like_request_response_and_close(server: zloop.Socket) -> None:
    request = b"GET /index.html HTTP/1.0\r\nHost: localhost\r\n\r\n"
    body = b"<html>hello</html>"
    response = b"HTTP/1.0 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
    with plain_client(port_of(server)) as client:
        rid, note = server.recv_multipart()
        assert note == b""
        client.sendall(request)
        got = b""
        while not got.endswith(b"\r\n\r\n"):
            frid, data = server.recv_multipart()
            assert frid == rid
            got += data
        assert got == request
        server.send_multipart([rid, response])
        server.send_multipart([rid, b""])  # close the connection
        assert read_until_eof(client) == response


def test_closing_by_empty_data_ends_only_that_connection(server: zloop.Socket) -> None:
    port = port_of(server)
    with plain_client(port) as first, plain_client(port) as second:
        rids = [server.recv_multipart()[0] for _ in range(2)]
        assert len(set(rids)) == 2
        # Learn which id is which connection.
        first.sendall(b"I am first")
        rid_first, data = server.recv_multipart()
        assert data == b"I am first"
        rid_second = next(r for r in rids if r != rid_first)
        server.send_multipart([rid_first, b"bye"])
        server.send_multipart([rid_first, b""])
        assert read_until_eof(first) == b"bye"
        # The other connection is untouched.
        server.send_multipart([rid_second, b"still here"])
        assert second.recv(100) == b"still here"
        second.sendall(b"pong")
        assert server.recv_multipart() == [
            rid_second,
            b"pong",
        ]  # no disconnect note for a local close
        # The closed connection's id is gone.
        with pytest.raises(zloop.ZMQError) as info:
            server.send_multipart([rid_first, b"late"])
        assert info.value.errno == zloop.EHOSTUNREACH


def test_peer_disconnect_is_notified(server: zloop.Socket) -> None:
    client = plain_client(port_of(server))
    rid, note = server.recv_multipart()
    assert note == b""
    client.sendall(b"last words")
    client.close()
    got = b""
    while True:
        frid, data = server.recv_multipart()
        assert frid == rid
        if not data:
            break  # the disconnect notification
        got += data
    assert got == b"last words"


def test_unknown_routing_id_is_unreachable(server: zloop.Socket) -> None:
    with pytest.raises(zloop.ZMQError) as info:
        server.send_multipart([b"\x00nope", b"data"])
    assert info.value.errno == zloop.EHOSTUNREACH
    assert server.EVENTS & zloop.POLLOUT  # STREAM is always writable, as libzmq


def test_stream_notify_off_drops_notifications(server: zloop.Socket) -> None:
    server.setsockopt(zloop.STREAM_NOTIFY, 0)
    with pytest.raises(zloop.ZMQError):
        server.getsockopt(zloop.STREAM_NOTIFY)  # write-only, as in libzmq
    client = plain_client(port_of(server))
    client.sendall(b"data only")
    rid, first = server.recv_multipart()
    assert first  # the first message is data, not a notification
    assert first + recv_bytes(server, rid, 9 - len(first)) == b"data only"
    client.close()
    # The disconnect is not announced either: a second client's data comes next.
    with plain_client(port_of(server)) as other:
        other.sendall(b"x")
        frid, data = server.recv_multipart()
        assert (frid, data) != (rid, b"") and data == b"x"


def test_fd_fires_for_connect_notification(server: zloop.Socket) -> None:
    assert not server.EVENTS & POLLIN  # arms the wake-up
    with plain_client(port_of(server)):
        assert fd_readable(server.FD, DEADLINE)
        assert server.poll(int(DEADLINE * 1000), POLLIN)
        assert server.recv_multipart()[1] == b""


def test_large_transfer_arrives_whole(server: zloop.Socket) -> None:
    payload = bytes(range(256)) * 4096  # 1 MiB
    with plain_client(port_of(server)) as client:
        rid, _ = server.recv_multipart()
        client.sendall(payload)
        assert recv_bytes(server, rid, len(payload)) == payload
        server.send_multipart([rid, payload])
        got = b""
        while len(got) < len(payload):
            got += client.recv(65536)
        assert got == payload


# -- zloop STREAM client, plain Python server ----------------------------------------------------


def test_client_connects_to_plain_listener(ctx: zloop.Context, listener: socket.socket) -> None:
    sock = with_deadlines(ctx.socket(zloop.STREAM))
    sock.connect(f"tcp://127.0.0.1:{listener.getsockname()[1]}")
    rid = sock.getsockopt(zloop.ROUTING_ID)  # libzmq: the id of the connection just made
    assert len(rid) == 5
    conn, _ = listener.accept()
    with conn:
        assert sock.recv_multipart() == [rid, b""]  # connected
        sock.send_multipart([rid, b"ping from zloop"])
        got = b""
        while len(got) < 15:
            got += conn.recv(100)
        assert got == b"ping from zloop"
        conn.sendall(b"pong from python")
        assert recv_bytes(sock, rid, 16) == b"pong from python"
    # The server closed: disconnect notification (then the connect side reconnects, same id).
    assert sock.recv_multipart() == [rid, b""]
    conn2, _ = listener.accept()
    with conn2:
        assert sock.recv_multipart() == [rid, b""]  # reconnected
        conn2.sendall(b"again")
        assert recv_bytes(sock, rid, 5) == b"again"


def test_client_queues_before_connection_and_honours_connect_routing_id(
    ctx: zloop.Context, listener: socket.socket
) -> None:
    sock = with_deadlines(ctx.socket(zloop.STREAM))
    sock.setsockopt(zloop.CONNECT_ROUTING_ID, b"my-conn")
    sock.connect(f"tcp://127.0.0.1:{listener.getsockname()[1]}")
    sock.send_multipart([b"my-conn", b"queued early"])  # routable at once, sent when connected
    conn, _ = listener.accept()
    with conn:
        got = b""
        while len(got) < 12:
            got += conn.recv(100)
        assert got == b"queued early"
        assert sock.recv_multipart() == [b"my-conn", b""]
        sock.send_multipart([b"my-conn", b""])  # close: no reconnect
        assert read_until_eof(conn) == b""
    listener.settimeout(0.2)
    with pytest.raises(TimeoutError):
        listener.accept()  # bounded wait for a reconnect that must not come


def test_client_close_flushes_what_was_sent_before(
    ctx: zloop.Context, listener: socket.socket
) -> None:
    sock = with_deadlines(ctx.socket(zloop.STREAM))
    sock.connect(f"tcp://127.0.0.1:{listener.getsockname()[1]}")
    rid = sock.getsockopt(zloop.ROUTING_ID)
    conn, _ = listener.accept()
    with conn:
        assert sock.recv_multipart() == [rid, b""]
        blob = b"z" * 300_000
        sock.send_multipart([rid, blob])
        sock.send_multipart([rid, b""])
        assert read_until_eof(conn) == blob


# -- interop with libzmq ---------------------------------------------------------------------------


@pytest.mark.interop
@pytest.mark.parametrize("zloop_binds", [True, False], ids=["zloop-binds", "libzmq-binds"])
def test_stream_interop_with_libzmq(ctx: zloop.Context, zctx: Any, zloop_binds: bool) -> None:
    import zmq

    ours = with_deadlines(ctx.socket(zloop.STREAM))
    theirs = with_deadlines(zctx.socket(zmq.STREAM))
    if zloop_binds:
        ours.bind("tcp://127.0.0.1:*")
        theirs.connect(ours.last_endpoint.decode())
    else:
        port = theirs.bind_to_random_port("tcp://127.0.0.1")
        ours.connect(f"tcp://127.0.0.1:{port}")
    our_rid, note = ours.recv_multipart()
    assert note == b""
    their_rid, note = theirs.recv_multipart()
    assert note == b""
    ours.send_multipart([our_rid, b"from zloop"])
    got = b""
    while len(got) < 10:
        rid, data = theirs.recv_multipart()
        assert rid == their_rid
        got += data
    assert got == b"from zloop"
    theirs.send_multipart([their_rid, b"from libzmq"])
    assert recv_bytes(ours, our_rid, 11) == b"from libzmq"
    # zloop closes the connection: libzmq is told it disconnected.
    ours.send_multipart([our_rid, b""])
    assert theirs.recv_multipart() == [their_rid, b""]
