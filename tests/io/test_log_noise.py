"""A remote peer cannot write to the application's log: what it does to its connection goes to the
monitor (as in libzmq) and to DEBUG records only; local faults it may trigger repeatedly are
rate-limited (``zloop.io.logs``)."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from typing import Any

import pytest

from zloop.io.logs import RateLimitedLog

# Runs in a fresh interpreter: argv = module name, logging set-up ("none" | "info"), connections
# per kind. Prints the monitor's event counts (by name) as JSON once every connection ended.
HOSTILE_PEERS = r"""
import json, logging, socket, struct, sys, time

impl, setup, per_kind = sys.argv[1], sys.argv[2], int(sys.argv[3])
if setup == "info":
    logging.basicConfig(level=logging.INFO)  # an application that logs INFO and above
zmq = __import__(impl)

SIG = b"\xff" + b"\x00" * 8 + b"\x7f"


def greeting(mechanism):
    return SIG + b"\x03\x00" + mechanism.ljust(20, b"\x00") + b"\x00" * 32


ERROR = b"\x05ERROR\x04nope"
PAYLOADS = {
    "garbage": greeting(b"\x00\xfeGARBAGE"),  # a greeting with a nonsense mechanism
    "mechanism": greeting(b"PLAIN"),  # a mechanism the NULL server refuses
    "error": greeting(b"NULL") + bytes((0x04, len(ERROR))) + ERROR,  # an ERROR command
    "silent": b"",  # says nothing until HANDSHAKE_IVL drops it
    "reset": SIG,  # half a greeting, then a reset
}
ctx = zmq.Context()
server = ctx.socket(zmq.ROUTER)
server.setsockopt(zmq.LINGER, 0)
server.setsockopt(zmq.HANDSHAKE_IVL, 200)
server.setsockopt(zmq.BACKLOG, 1024)
monitor = server.get_monitor_socket()
server.bind("tcp://127.0.0.1:*")
host, port = server.getsockopt(zmq.LAST_ENDPOINT).decode()[len("tcp://"):].rsplit(":", 1)


def read_until_closed(s):
    while True:
        try:
            if not s.recv(4096):
                return
        except ConnectionResetError:
            return


for kind, payload in PAYLOADS.items():
    socks = []
    for _ in range(per_kind):
        s = socket.create_connection((host, int(port)), timeout=10)
        if payload:
            s.sendall(payload)
        socks.append(s)
    for s in socks:
        if kind == "reset":
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        else:
            read_until_closed(s)  # the server closes it
        s.close()
total = per_kind * len(PAYLOADS)
counts = {}
while counts.get("DISCONNECTED", 0) < total:
    assert monitor.poll(10_000), counts
    event = struct.unpack("=H", monitor.recv_multipart()[0][:2])[0]
    name = zmq.Event(event).name
    counts[name] = counts.get(name, 0) + 1
print(json.dumps(counts))
monitor.close()
server.close()
ctx.term()
"""

PER_KIND = 40  # five kinds: 200 hostile connections


@pytest.mark.parametrize("setup", ["none", "info"])
def test_hostile_connections_write_nothing_to_stderr(impl: Any, setup: str) -> None:
    """No logging configured (Python's last-resort handler prints WARNING and above) or an
    application logging INFO to stderr: 200 refused, malformed, erroring, silent and reset
    connections print nothing, as with libzmq, and the monitor reports every one of them."""
    proc = subprocess.run(
        [sys.executable, "-c", HOSTILE_PEERS, impl.__name__, setup, str(PER_KIND)],
        capture_output=True,
        text=True,
        timeout=50,
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stderr == ""
    counts = json.loads(proc.stdout)
    assert counts["ACCEPTED"] == counts["DISCONNECTED"] == 5 * PER_KIND
    # garbage + refused mechanism: a protocol error each; ERROR + silent (timeout): no detail.
    assert counts["HANDSHAKE_FAILED_PROTOCOL"] == 2 * PER_KIND
    assert counts["HANDSHAKE_FAILED_NO_DETAIL"] >= 2 * PER_KIND


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def _limited_log() -> tuple[RateLimitedLog, _Records, list[float]]:
    logger = logging.getLogger("zloop.test-log-noise")
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    for old in list(logger.handlers):
        logger.removeHandler(old)
    handler = _Records()
    logger.addHandler(handler)
    now = [100.0]
    return RateLimitedLog(logger, interval=60.0, clock=lambda: now[0]), handler, now


def test_rate_limited_log_writes_one_record_per_kind_and_interval() -> None:
    limited, handler, now = _limited_log()
    assert limited("accept", logging.WARNING, "accept failed: %s", "EMFILE")
    for second in range(1, 60):
        now[0] = 100.0 + second
        assert not limited("accept", logging.WARNING, "accept failed: %s", "EMFILE")
    # Another kind has its own interval.
    assert limited("internal error", logging.ERROR, "bug on %s", "tcp://x")
    levels = [r.levelno for r in handler.records]
    assert levels.count(logging.WARNING) == 1 and levels.count(logging.ERROR) == 1
    assert levels.count(logging.DEBUG) == 59  # every occurrence is still there at DEBUG
    now[0] = 160.0
    assert limited("accept", logging.WARNING, "accept failed: %s", "EMFILE")
    last = handler.records[-1]
    assert last.levelno == logging.WARNING
    assert last.getMessage() == (
        "accept failed: EMFILE (59 more like this in the last 60 s were logged at DEBUG only)"
    )
    now[0] = 300.0  # nothing left out since: the plain message
    assert limited("accept", logging.WARNING, "accept failed: %s", "EMFILE")
    assert handler.records[-1].getMessage() == "accept failed: EMFILE"
