"""``zloop monitor`` as a subprocess: events by name, connecting to or accepting libzmq and zloop."""

from __future__ import annotations

import re
from typing import Any

from zl_cli import Tool, run


def events(lines: list[str]) -> list[str]:
    return [line.split()[0] for line in lines]


def test_monitor_a_connection_to_a_peer(impl: Any, impl_ctx: Any) -> None:
    router = impl_ctx.socket(impl.ROUTER)
    router.setsockopt(impl.LINGER, 0)
    router.bind("tcp://127.0.0.1:*")
    where = router.getsockopt(impl.LAST_ENDPOINT).decode()
    with Tool("monitor", f"dealer:{where}", "-n", "3") as tool:
        lines = tool.lines(3)
        assert events(lines) == ["CONNECT_DELAYED", "CONNECTED", "HANDSHAKE_SUCCEEDED"], lines
        assert lines[0].split()[1] == where
        assert lines[1].split()[2] == "fd"
        assert tool.wait() == 0


def test_monitor_a_bound_socket_sees_peers_come_and_go(impl: Any, impl_ctx: Any) -> None:
    with Tool("monitor", "pull:@tcp://127.0.0.1:*", "--messages", "--timestamps") as tool:
        where = tool.bound()
        (first,) = tool.lines(1)
        assert re.fullmatch(r"\d\d:\d\d:\d\d LISTENING +tcp://127\.0\.0\.1:\d+  fd \d+", first)
        push = impl_ctx.socket(impl.PUSH)
        push.connect(where)
        push.send(b"seen")
        names = []
        while "message" not in names:
            names.append(tool.lines(1)[0].split()[1])
        push.close(linger=0)
        while names[-1] != "DISCONNECTED":
            names.append(tool.lines(1)[0].split()[1])
        # The message may be readable before the HANDSHAKE_SUCCEEDED event reached the monitor
        # socket (two sockets, no order between them): the events keep their order.
        assert [n for n in names if n != "message"] == [
            "ACCEPTED",
            "HANDSHAKE_SUCCEEDED",
            "DISCONNECTED",
        ], names
        assert tool.stop() == 0


def test_monitor_shows_a_refused_peer(impl: Any, impl_ctx: Any) -> None:
    """A peer whose socket type cannot talk to ours fails its handshake, and the line says why.

    Which failure depends on who notices first: zloop reading the peer's READY (PROTOCOL, with the
    ZMTP error code), or libzmq refusing zloop's READY and closing before zloop read its own
    (NO_DETAIL, with the errno of the failed write).
    """
    failures = "handshake_failed_protocol,handshake_failed_no_detail"
    with Tool("monitor", "pull:@tcp://127.0.0.1:*", "--events", failures) as tool:
        wrong = impl_ctx.socket(impl.PULL)  # PULL cannot talk to PULL
        wrong.setsockopt(impl.LINGER, 0)
        wrong.connect(tool.bound())
        (line,) = tool.lines(1)
        name, _, *value = line.split()
        if name == "HANDSHAKE_FAILED_PROTOCOL":
            assert value[0].startswith("ZMTP_"), line
        else:
            assert name == "HANDSHAKE_FAILED_NO_DETAIL" and value[0] == "errno", line
        assert tool.stop() == 0


def test_unknown_event_name() -> None:
    proc = run("monitor", "tcp://127.0.0.1:1", "--events", "connected,nosuch")
    assert proc.returncode == 2
    assert "unknown event 'nosuch'" in proc.stderr and "Traceback" not in proc.stderr
