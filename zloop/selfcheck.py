"""A quick self-check of the protocol layer, used by ``zloop demo`` and ``zloop selfcheck``.

It runs two sans-I/O connections against each other (no sockets), checks the greeting bytes against
the ones libzmq sends, and exchanges a multipart message. Each check returns a line for the report.
"""

from __future__ import annotations

from collections.abc import Callable

from zloop.constants import SocketType
from zloop.protocol import Connection, HandshakeComplete, Message

#: The first 10 bytes libzmq 4.3 sends on a new connection with no routing id (docs/wire.md §1, §10).
LIBZMQ_SIGNATURE = bytes.fromhex("ff00000000000000017f")


def _pump(a: Connection, b: Connection) -> tuple[list[object], list[object]]:
    got_a: list[object] = []
    got_b: list[object] = []
    for _ in range(10):
        out_a, out_b = a.data_to_send(), b.data_to_send()
        if not out_a and not out_b:
            break
        b.receive_data(out_a)
        a.receive_data(out_b)
        got_a.extend(a.events())
        got_b.extend(b.events())
    return got_a, got_b


def _check_signature() -> str:
    conn = Connection(SocketType.DEALER)
    first = conn.data_to_send()
    if first[:10] != LIBZMQ_SIGNATURE:
        raise AssertionError(
            f"greeting starts {first[:10].hex()}, libzmq sends {LIBZMQ_SIGNATURE.hex()}"
        )
    return "greeting signature matches libzmq's bytes"


def _check_handshake_and_message() -> str:
    client, server = Connection(SocketType.DEALER), Connection(SocketType.ROUTER)
    got_c, got_s = _pump(client, server)
    done = [e for e in got_c + got_s if isinstance(e, HandshakeComplete)]
    if len(done) != 2:
        raise AssertionError(f"handshake did not complete: {got_c + got_s}")
    frames = [b"hello", b"", b"x" * 70_000]
    client.send_message(frames)
    _, got_s = _pump(client, server)
    msgs = [e for e in got_s if isinstance(e, Message)]
    if len(msgs) != 1 or [bytes(f) for f in msgs[0].frames] != frames:
        raise AssertionError(f"message did not round-trip: {got_s}")
    return "ZMTP 3.1 NULL handshake + 3-frame message (70 KB frame) round-trip"


def _check_refusal() -> str:
    a, b = Connection(SocketType.PUSH), Connection(SocketType.PUB)
    got_a, got_b = _pump(a, b)
    if any(isinstance(e, HandshakeComplete) for e in got_a + got_b):
        raise AssertionError("PUSH and PUB completed a handshake; they must refuse each other")
    return "incompatible socket types (PUSH vs PUB) refused"


CHECKS: list[Callable[[], str]] = [_check_signature, _check_handshake_and_message, _check_refusal]


def run() -> list[tuple[bool, str]]:
    """Run every check; (passed, description or error) per check."""
    results: list[tuple[bool, str]] = []
    for check in CHECKS:
        try:
            results.append((True, check()))
        except Exception as exc:
            results.append((False, f"{check.__name__}: {exc}"))
    return results
