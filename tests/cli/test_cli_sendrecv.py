"""``zloop send`` / ``zloop recv`` as subprocesses, against libzmq (pyzmq) and zloop peers."""

from __future__ import annotations

import select
import time
from pathlib import Path
from typing import Any

import pytest
from zl_cli import Tool, run

from zloop import keys

DEADLINE_MS = 20_000


def peer(impl_ctx: Any, impl: Any, kind: str, bind: str | None = None) -> Any:
    sock = impl_ctx.socket(getattr(impl, kind))
    sock.setsockopt(impl.LINGER, 0)
    sock.setsockopt(impl.RCVTIMEO, DEADLINE_MS)
    sock.setsockopt(impl.SNDTIMEO, DEADLINE_MS)
    if bind:
        sock.bind(bind)
    return sock


def endpoint(sock: Any, impl: Any) -> str:
    return str(sock.getsockopt(impl.LAST_ENDPOINT).decode())


def test_send_lines_and_frames_to_a_pull(impl: Any, impl_ctx: Any) -> None:
    pull = peer(impl_ctx, impl, "PULL", "tcp://127.0.0.1:*")
    proc = run("send", f"push:{endpoint(pull, impl)}", "-F", r"\t", stdin=b"one\ntwo\tparts\n")
    assert proc.returncode == 0, proc.stderr
    assert pull.recv_multipart() == [b"one"]
    assert pull.recv_multipart() == [b"two", b"parts"]


def test_send_nul_separated_and_count(impl: Any, impl_ctx: Any) -> None:
    pull = peer(impl_ctx, impl, "PULL", "tcp://127.0.0.1:*")
    proc = run(
        "send", endpoint(pull, impl), "-0", "-n", "2", stdin=b"line\nwith newline\0b\0not sent\0"
    )
    assert proc.returncode == 0, proc.stderr
    assert pull.recv_multipart() == [b"line\nwith newline"]
    assert pull.recv_multipart() == [b"b"]
    assert not pull.poll(200)


def test_recv_prints_what_arrives(impl: Any, impl_ctx: Any) -> None:
    with Tool("recv", "pull:@tcp://127.0.0.1:*", "-n", "2") as tool:
        push = peer(impl_ctx, impl, "PUSH")
        push.connect(tool.bound())
        push.send(b"a")
        push.send_multipart([b"b", b"c"])
        assert tool.lines(2) == ["a", "b\tc"]
        assert tool.wait() == 0


def test_req_send_prints_each_reply(impl: Any, impl_ctx: Any) -> None:
    rep = peer(impl_ctx, impl, "REP", "tcp://127.0.0.1:*")
    with Tool("send", f"req:{endpoint(rep, impl)}", stdin=True) as tool:
        for word in (b"ping", b"again"):
            tool.write(word + b"\n")
            rep.send(b"pong:" + rep.recv())
            assert tool.lines(1) == ["pong:" + word.decode()]
        tool.write(b"", close=True)
        assert tool.wait() == 0


def test_rep_recv_echoes_requests(impl: Any, impl_ctx: Any) -> None:
    with Tool("recv", "rep:@tcp://127.0.0.1:*", "-n", "1") as tool:
        req = peer(impl_ctx, impl, "REQ")
        req.connect(tool.bound())
        req.send(b"hello")
        assert req.recv() == b"hello"
        assert tool.lines(1) == ["hello"]
        assert tool.wait() == 0


def test_sub_recv_gets_only_its_prefix(impl: Any, impl_ctx: Any) -> None:
    with Tool("recv", "sub:@tcp://127.0.0.1:*", "--subscribe", "weather", "-n", "2") as tool:
        pub = peer(impl_ctx, impl, "PUB")
        pub.connect(tool.bound())
        assert tool.proc.stdout is not None
        fd = tool.proc.stdout.fileno()
        deadline = time.monotonic() + 20
        # PUB drops what no subscription asked for yet: publish until the subscriber prints.
        while not select.select([fd], [], [], 0.02)[0]:
            assert time.monotonic() < deadline, tool.err()
            pub.send(b"sports 1")
            pub.send(b"weather 20")
        pub.send(b"sports 2")
        pub.send(b"weather 21")
        lines = tool.lines(2)
        assert lines[0] == "weather 20"
        assert lines[1] in ("weather 20", "weather 21")
        assert tool.wait() == 0


def test_router_recv_in_hex(impl: Any, impl_ctx: Any) -> None:
    with Tool("recv", "router:@tcp://127.0.0.1:*", "--format", "hex", "-n", "1") as tool:
        dealer = peer(impl_ctx, impl, "DEALER")
        dealer.setsockopt(impl.ROUTING_ID, b"\x01\x02")
        dealer.connect(tool.bound())
        dealer.send(b"hi")
        assert tool.lines(1) == ["0102\t6869"]


def test_send_to_recv_both_zloop(tmp_path: Path) -> None:
    with Tool("recv", "pull:@ipc://" + str(tmp_path / "s"), "-n", "3", "--format", "repr") as rx:
        where = rx.bound()
        proc = run("send", where, stdin=b"x\n\ny\n")
        assert proc.returncode == 0, proc.stderr
        assert rx.lines(3) == ["b'x'", "b''", "b'y'"]


@pytest.mark.skipif(not keys.has_curve(), reason="CURVE needs PyNaCl (the curve extra)")
def test_curve_client_send_to_a_curve_server(impl: Any, impl_ctx: Any) -> None:
    public, secret = impl.curve_keypair()
    server = peer(impl_ctx, impl, "PULL")
    server.setsockopt(impl.CURVE_SERVER, 1)
    server.setsockopt(impl.CURVE_SECRETKEY, secret)
    server.bind("tcp://127.0.0.1:*")
    proc = run(
        "send",
        endpoint(server, impl),
        "--curve-serverkey",
        public.decode(),
        stdin=b"secret hello\n",
    )
    assert proc.returncode == 0, proc.stderr
    assert server.recv() == b"secret hello"


# Z85 spells keys with '-' among its 85 characters, so about one random key in 85 begins with a
# dash, which argparse would take for an option: a server key pair whose public key begins with
# '-', and a client secret key beginning with '-'.
DASH_SERVER_PUBLIC = "-{-^ucdJ3T1BxgHc6sGkXtkcdY4c8g3KmcG2Sbdt"
DASH_SERVER_SECRET = "niHF4r8-}fbvMm<:(O:ZHE$6PNEA2AgU?G/AQRp<"
DASH_CLIENT_SECRET = "-zv@QUvd)Ti^fq&f]gPCDGg>4]1o8U.M.Pl(^6v5"


@pytest.mark.skipif(not keys.has_curve(), reason="CURVE needs PyNaCl (the curve extra)")
def test_curve_keys_beginning_with_a_dash(impl: Any, impl_ctx: Any) -> None:
    assert impl.curve_public(DASH_SERVER_SECRET).decode() == DASH_SERVER_PUBLIC
    server = peer(impl_ctx, impl, "PULL")
    server.setsockopt(impl.CURVE_SERVER, 1)
    server.setsockopt(impl.CURVE_SECRETKEY, DASH_SERVER_SECRET.encode())
    server.bind("tcp://127.0.0.1:*")
    proc = run(
        "send",
        endpoint(server, impl),
        "--curve-serverkey",
        DASH_SERVER_PUBLIC,
        "--curve-secret",
        DASH_CLIENT_SECRET,
        stdin=b"dashing\n",
    )
    assert proc.returncode == 0, proc.stderr
    assert server.recv() == b"dashing"


@pytest.mark.skipif(not keys.has_curve(), reason="CURVE needs PyNaCl (the curve extra)")
def test_curve_server_recv_with_a_keygen_certificate(
    impl: Any, impl_ctx: Any, tmp_path: Path
) -> None:
    made = run("keygen", "server", "-d", str(tmp_path))
    assert made.returncode == 0, made.stderr
    secret_file = str(tmp_path / "server.key_secret")
    with Tool(
        "recv",
        "pull:@tcp://127.0.0.1:*",
        "--curve-server",
        "--curve-secret",
        secret_file,
        "-n",
        "1",
    ) as tool:
        client = peer(impl_ctx, impl, "PUSH")
        client_public, client_secret = impl.curve_keypair()
        client.setsockopt(impl.CURVE_SERVERKEY, keys_from(tmp_path / "server.key"))
        client.setsockopt(impl.CURVE_PUBLICKEY, client_public)
        client.setsockopt(impl.CURVE_SECRETKEY, client_secret)
        client.connect(tool.bound())
        client.send(b"over curve")
        assert tool.lines(1) == ["over curve"]


def keys_from(path: Path) -> bytes:
    from zloop.auth import load_certificate

    public, _ = load_certificate(path)
    return public


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["recv", "socket:tcp://127.0.0.1:1"], "zloop recv: unknown socket type 'socket'"),
        (["send", "push:nowhere"], "zloop send: 'nowhere' is not an endpoint"),
        (["recv", "pull:@tcp://256.0.0.1:1"], "zloop recv: cannot bind tcp://256.0.0.1:1"),
        (["send", "-o", "nosuch=1", "tcp://127.0.0.1:1"], "zloop send: -o 'nosuch=1'"),
        (["send", "-o", "sndhwm=lots", "tcp://127.0.0.1:1"], "sndhwm takes an integer"),
        (["send", "--curve-server", "tcp://127.0.0.1:1"], "--curve-server needs --curve-secret"),
        (["recv", "--subscribe", "x", "pull:tcp://127.0.0.1:1"], "--subscribe is for SUB"),
    ],
)
def test_bad_arguments_give_one_line(args: list[str], message: str) -> None:
    proc = run(*args)
    assert proc.returncode == 2
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr


def test_recv_timeout_and_sigterm() -> None:
    proc = run("recv", "pull:@tcp://127.0.0.1:*", "--timeout", "0.2")
    assert proc.returncode == 1
    assert "nothing arrived within 0.2 s" in proc.stderr
    with Tool("recv", "pull:@tcp://127.0.0.1:*") as tool:
        tool.bound()
        assert tool.stop() == 0
        _, err = tool.rest()
        assert "Traceback" not in err


def test_recv_into_a_closed_pipe_stops_quietly(impl: Any, impl_ctx: Any) -> None:
    with Tool("recv", "pull:@tcp://127.0.0.1:*") as tool:
        push = peer(impl_ctx, impl, "PUSH")
        push.connect(tool.bound())
        push.send(b"first")
        assert tool.lines(1) == ["first"]
        assert tool.proc.stdout is not None
        tool.proc.stdout.close()
        deadline = time.monotonic() + 20
        while tool.proc.poll() is None:
            assert time.monotonic() < deadline
            if push.poll(100, impl.POLLOUT):
                push.send(b"more", impl.NOBLOCK)
        assert tool.proc.returncode == 0
        assert tool.proc.stderr is not None
        assert b"Traceback" not in tool.proc.stderr.read()


def test_send_waits_for_peers_until_its_timeout() -> None:
    proc = run("send", "pub:@tcp://127.0.0.1:*", "--wait-peers", "1", "--timeout", "0.3")
    assert proc.returncode == 1
    assert "zloop send: fewer than 1 peers within 0.3 s" in proc.stderr


def test_send_waits_for_a_peer_then_sends(impl: Any, impl_ctx: Any) -> None:
    with Tool("send", "push:@tcp://127.0.0.1:*", "--wait-peers", "1", stdin=True) as tool:
        where = tool.bound()
        tool.write(b"after the handshake\n", close=True)
        pull = peer(impl_ctx, impl, "PULL")
        pull.connect(where)
        assert pull.recv() == b"after the handshake"
        assert tool.wait() == 0
