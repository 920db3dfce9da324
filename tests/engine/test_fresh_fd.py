"""A socket whose very first use is to wait on its FD is woken (the mailbox is born asleep).

Regression: the mailbox used to start "awake", so the first command (the bind side's new pipe after
the handshake) did not signal FD and a program that registered FD before any other call slept forever.
"""

from __future__ import annotations

import select
import threading
from pathlib import Path

import pytest

import zloop


def _endpoint(transport: str, tmp_path: Path) -> str:
    return {
        "tcp": "tcp://127.0.0.1:*",
        "ipc": f"ipc://{tmp_path / 'fresh.ipc'}",
        "inproc": "inproc://fresh",
    }[transport]


@pytest.mark.parametrize("transport", ["tcp", "ipc", "inproc"])
def test_first_wait_on_fd_is_woken(transport: str, tmp_path: Path) -> None:
    ctx = zloop.Context()
    try:
        pull = ctx.socket(zloop.PULL)
        pull.bind(_endpoint(transport, tmp_path))
        endpoint = pull.last_endpoint.decode()
        poller = select.poll()
        poller.register(pull.FD, select.POLLIN)  # nothing else was called on `pull` before waiting

        def send() -> None:
            push = ctx.socket(zloop.PUSH)
            push.connect(endpoint)
            push.send(b"first")
            push.close()

        thread = threading.Thread(target=send)
        thread.start()
        assert poller.poll(5000), "FD never fired for a socket that had not been used yet"
        assert pull.poll(5000) == zloop.POLLIN
        assert pull.recv(zloop.NOBLOCK) == b"first"
        thread.join()
        pull.close()
    finally:
        ctx.term()


def test_new_mailbox_signals_first_command() -> None:
    from zloop.mailbox import Mailbox

    box = Mailbox()
    try:
        box.post(lambda: None)
        assert select.select([box.fileno()], [], [], 0)[0], (
            "first post did not make the fd readable"
        )
    finally:
        box.close()
