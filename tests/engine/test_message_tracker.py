"""``send(copy=False, track=True)`` returns a ``MessageTracker`` done once the library no longer
holds the buffer (issue 11, part 5). Every scenario runs on zloop and on pyzmq (libzmq) alike.

pyzmq's rules, followed here: ``copy=True`` returns None (nothing shared, nothing to track);
``copy=False`` under ``copy_threshold`` (64 KiB) copies and returns a tracker already done; above it
the buffer is shared and the tracker completes when the engine wrote it (tcp, ipc), when it is
dropped (close with LINGER 0), or over inproc when the receiving side released what it received.
"""

from __future__ import annotations

import array
import contextlib
import gc
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from zl_testing import DEADLINE, DEADLINE_MS, endpoint_for

import zloop

BIG = 200_000  # shared with copy=False (above the 64 KiB copy threshold)
PENDING = 0.3  # seconds a pending tracker is watched staying pending


def _pair(impl: Any, ctx: Any, transport: str, tmp_path: Path, **recv_opts: int) -> tuple[Any, Any]:
    pull = ctx.socket(impl.PULL)
    for name, value in recv_opts.items():
        pull.setsockopt(getattr(impl, name), value)
    pull.bind(endpoint_for(transport, tmp_path, "trk"))
    push = ctx.socket(impl.PUSH)
    push.connect(pull.last_endpoint.decode())
    return pull, push


def _assert_pending(impl: Any, tracker: Any) -> None:
    with pytest.raises(impl.NotDone):
        tracker.wait(PENDING)
    assert not tracker.done


def _assert_done(tracker: Any) -> None:
    gc.collect()  # pyzmq frees a Frame's buffer through its garbage thread; zloop needs nothing
    tracker.wait(DEADLINE)
    assert tracker.done


def test_names(impl: Any) -> None:
    assert issubclass(impl.NotDone, impl.ZMQBaseError)
    assert impl.COPY_THRESHOLD == 65536
    assert impl.MessageTracker().done  # tracks nothing


# -- what send returns ----------------------------------------------------------------------------


def test_copy_true_returns_none(impl: Any, impl_ctx: Any, tmp_path: Path) -> None:
    """pyzmq: track is ignored with copy=True (the data was copied; nothing is shared)."""
    pull, push = _pair(impl, impl_ctx, "tcp", tmp_path)
    assert push.send(b"x" * BIG, copy=True, track=True) is None
    assert push.send_multipart([b"x" * BIG, b"y"], copy=True, track=True) is None
    assert push.send(b"plain") is None
    for _ in range(3):
        assert pull.poll(DEADLINE_MS)
        pull.recv_multipart()


def test_small_copy_false_is_copied_and_done(impl: Any, impl_ctx: Any, tmp_path: Path) -> None:
    """Under the copy threshold copy=False copies: the returned tracker is done at once, even
    without track=True (pyzmq returns its finished tracker)."""
    pull, push = _pair(impl, impl_ctx, "tcp", tmp_path)
    data = bytearray(b"small")
    for track in (True, False):
        tracker = push.send(data, copy=False, track=track)
        assert tracker is not None and tracker.done
    data[:] = b"CHANG"  # the copies went out unchanged
    assert pull.poll(DEADLINE_MS) and pull.recv() == b"small"
    assert pull.poll(DEADLINE_MS) and pull.recv() == b"small"


def test_large_copy_false_untracked_returns_none(impl: Any, impl_ctx: Any, tmp_path: Path) -> None:
    pull, push = _pair(impl, impl_ctx, "tcp", tmp_path)
    assert push.send(bytearray(BIG), copy=False) is None
    assert pull.poll(DEADLINE_MS) and len(pull.recv()) == BIG


def test_copy_threshold_zero_tracks_small_frames(impl: Any, impl_ctx: Any, tmp_path: Path) -> None:
    pull, push = _pair(impl, impl_ctx, "inproc", tmp_path)
    push.copy_threshold = 0
    tracker = push.send(bytearray(b"tiny"), copy=False, track=True)
    _assert_pending(impl, tracker)  # inproc: the receiver has not taken it yet
    assert pull.recv() == b"tiny"
    _assert_done(tracker)


# -- done after delivery, pending before ------------------------------------------------------------


@pytest.mark.parametrize("transport", ["tcp", "ipc", "inproc"])
def test_done_after_delivery(impl: Any, impl_ctx: Any, tmp_path: Path, transport: str) -> None:
    pull, push = _pair(impl, impl_ctx, transport, tmp_path)
    data = bytearray(b"d" * BIG)
    tracker = push.send(data, copy=False, track=True)
    assert tracker is not None
    if transport == "inproc":
        _assert_pending(impl, tracker)  # the message itself waits in the receiver's queue
    assert pull.poll(DEADLINE_MS) and pull.recv() == data
    _assert_done(tracker)


def test_pending_while_the_peer_is_absent_then_dropped_by_close(
    impl: Any, impl_ctx: Any, tmp_path: Path
) -> None:
    """Queued for a peer that never came: pending; ``close(linger=0)`` drops it: done."""
    push = impl_ctx.socket(impl.PUSH)
    push.connect(f"ipc://{tmp_path}/nobody.ipc")
    tracker = push.send(bytearray(BIG), copy=False, track=True)
    _assert_pending(impl, tracker)
    push.close(linger=0)
    _assert_done(tracker)


def test_inproc_receiver_closed_without_reading_drops_it(impl: Any, impl_ctx: Any) -> None:
    """libzmq frees the unread messages when the pipe's termination completes, which needs the
    sender to process its commands (any call that does: EVENTS here); zloop at once."""
    pull = impl_ctx.socket(impl.PULL)
    pull.bind("inproc://trk-unread")
    push = impl_ctx.socket(impl.PUSH)
    push.connect("inproc://trk-unread")
    tracker = push.send(bytearray(BIG), copy=False, track=True)
    _assert_pending(impl, tracker)
    pull.close(linger=0)
    deadline = time.monotonic() + DEADLINE
    while not tracker.done and time.monotonic() < deadline:
        push.getsockopt(impl.EVENTS)
        with contextlib.suppress(impl.NotDone):
            tracker.wait(0.01)
    assert tracker.done


def test_pending_while_a_partial_write_holds_the_rest(
    impl: Any, impl_ctx: Any, tmp_path: Path
) -> None:
    """The receiver stops reading (RCVHWM 1, nothing received), so the sender's engine is left
    with the unwritten rest of a large frame: the tracker must stay pending until it went out
    (zloop kept only a new view of the rest, and the tracked buffer was reported done early)."""
    pull, push = _pair(impl, impl_ctx, "tcp", tmp_path, RCVHWM=1)
    push.send(b"1")  # fills the receiver's pipe
    push.send(b"2")  # decoded, then held: the receiving engine stops reading
    data = bytearray(b"p" * (24 << 20))  # far more than the kernel buffers of a loopback link
    tracker = push.send(data, copy=False, track=True)
    _assert_pending(impl, tracker)
    for expected in (b"1", b"2"):
        assert pull.poll(DEADLINE_MS) and pull.recv() == expected
    assert pull.poll(DEADLINE_MS) and pull.recv() == data
    _assert_done(tracker)


# -- multipart, SNDMORE ---------------------------------------------------------------------------


def test_multipart_tracker(impl: Any, impl_ctx: Any, tmp_path: Path) -> None:
    pull, push = _pair(impl, impl_ctx, "inproc", tmp_path)
    parts = [bytearray(b"a" * BIG), bytearray(b"b" * BIG)]
    tracker = push.send_multipart(parts, copy=False, track=True)
    _assert_pending(impl, tracker)
    assert pull.recv_multipart() == parts
    _assert_done(tracker)


def test_multipart_tracker_covers_every_part(ctx: zloop.Context, tmp_path: Path) -> None:
    """⚠ pyzmq returns the tracker of the last part only: with a small last part it is done at
    once while the large first part is still queued. zloop's covers every tracked part."""
    pull, push = _pair(zloop, ctx, "inproc", tmp_path)
    tracker = push.send_multipart([bytearray(BIG), b"small"], copy=False, track=True)
    _assert_pending(zloop, tracker)
    pull.recv_multipart()
    _assert_done(tracker)


def test_sndmore_parts_have_their_own_trackers(impl: Any, impl_ctx: Any, tmp_path: Path) -> None:
    pull, push = _pair(impl, impl_ctx, "inproc", tmp_path)
    first = push.send(bytearray(BIG), impl.SNDMORE, copy=False, track=True)
    last = push.send(bytearray(BIG), copy=False, track=True)
    _assert_pending(impl, first)
    assert len(pull.recv_multipart()) == 2
    _assert_done(first)
    _assert_done(last)


# -- Frame(track=True) -----------------------------------------------------------------------------


def test_frame_tracker_waits_for_the_frame_too(impl: Any, impl_ctx: Any, tmp_path: Path) -> None:
    pull, push = _pair(impl, impl_ctx, "tcp", tmp_path)
    frame = impl.Frame(bytearray(b"f" * BIG), track=True)
    tracker = frame.tracker
    assert push.send(frame) is tracker
    assert pull.poll(DEADLINE_MS) and len(pull.recv()) == BIG
    _assert_pending(impl, tracker)  # the Frame still holds the buffer
    del frame
    _assert_done(tracker)


def test_frame_tracker_rules(impl: Any, impl_ctx: Any) -> None:
    assert impl.Frame(b"x" * BIG).tracker is None
    assert impl.Frame(b"small", track=True).tracker.done  # copied: under the threshold
    assert impl.Frame(b"x" * BIG, track=True, copy=True).tracker.done
    sock = impl_ctx.socket(impl.PUSH)
    with pytest.raises(ValueError, match="Not a tracked message"):
        sock.send(impl.Frame(b"x" * BIG), track=True)
    with pytest.raises(ValueError, match="Not a tracked message"):
        impl.MessageTracker(impl.Frame(b"x"))
    with pytest.raises(TypeError):
        impl.MessageTracker(3)
    sock.close(0)


def test_inproc_received_buffer_keeps_it_pending(impl: Any, impl_ctx: Any, tmp_path: Path) -> None:
    """Over inproc the receiver gets the sender's buffer itself: a view taken from the received
    frame keeps it in use after the frame is gone."""
    pull, push = _pair(impl, impl_ctx, "inproc", tmp_path)
    tracker = push.send(bytearray(b"v" * BIG), copy=False, track=True)
    frame = pull.recv(copy=False)
    view = frame.buffer
    del frame
    _assert_pending(impl, tracker)
    assert view[0] == ord("v")
    del view
    _assert_done(tracker)


# -- MessageTracker --------------------------------------------------------------------------------


def test_tracker_of_events_and_trackers(impl: Any) -> None:
    event = threading.Event()
    inner = impl.MessageTracker(event)
    outer = impl.MessageTracker(inner, impl.MessageTracker())
    assert not outer.done
    with pytest.raises(impl.NotDone):
        outer.wait(0)
    event.set()
    assert outer.done
    outer.wait(DEADLINE)


# -- shared buffers are sent byte by byte ----------------------------------------------------------


@pytest.mark.parametrize("track", [False, True])
def test_shared_buffer_of_wide_items(impl: Any, impl_ctx: Any, tmp_path: Path, track: bool) -> None:
    """A copy=False buffer whose items are 8 bytes wide, larger than the kernel takes at once:
    zloop counted the partial write in items (``len``), not bytes, and desynchronised the stream
    (the message and the next one never arrived)."""
    pull, push = _pair(impl, impl_ctx, "tcp", tmp_path)
    data = array.array("d", range(3_000_000))  # 24 MB
    push.send(data, copy=False, track=track)
    push.send(b"after")
    assert pull.poll(DEADLINE_MS) and pull.recv() == data.tobytes()
    assert pull.poll(DEADLINE_MS) and pull.recv() == b"after"
