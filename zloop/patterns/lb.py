"""Round-robin over writable pipes (libzmq's ``lb``) and fair-queueing over readable ones (``fq``).

Both keep one list of pipes whose first ``active`` entries are the ready ones, so choosing the next
pipe is O(1) and a pipe that turns out not ready is swapped out of the active region. A deactivated
pipe comes back only through ``activated`` (its pipe posted activate_write / activate_read), which the
pipe guarantees to do once it is ready again.
"""

from __future__ import annotations

from zloop.pipe import POLLIN, Msg, Pipe


class _Rotation:
    __slots__ = ("active", "current", "pipes")

    def __init__(self) -> None:
        self.pipes: list[Pipe] = []
        self.active = 0
        self.current = 0

    def _swap(self, i: int, j: int) -> None:
        pipes = self.pipes
        pipes[i], pipes[j] = pipes[j], pipes[i]

    def attach(self, pipe: Pipe) -> None:
        self.pipes.append(pipe)
        self._swap(self.active, len(self.pipes) - 1)
        self.active += 1

    def activated(self, pipe: Pipe) -> None:
        try:
            i = self.pipes.index(pipe)
        except ValueError:
            return
        if i >= self.active:
            self._swap(i, self.active)
            self.active += 1

    def deactivate_current(self) -> None:
        self.active -= 1
        self._swap(self.current, self.active)
        if self.current >= self.active:
            self.current = 0

    def remove(self, pipe: Pipe) -> None:
        try:
            i = self.pipes.index(pipe)
        except ValueError:
            return
        if i < self.active:
            self.active -= 1
            self._swap(i, self.active)
            i = self.active
        self._swap(i, len(self.pipes) - 1)
        self.pipes.pop()
        if self.current >= self.active:
            self.current = 0

    def advance(self) -> None:
        self.current += 1
        if self.current >= self.active:
            self.current = 0


class LoadBalancer(_Rotation):
    """Send each message to the next pipe with room, in turn."""

    __slots__ = ()

    def send(self, msg: Msg) -> bool:
        if self.active:
            # The current pipe has room below its high-water mark (the common case): queue the
            # message on it here, as Pipe.write_flush would, one call less per message. A full,
            # inactive, unlimited or conflating pipe takes the general path below.
            current = self.current
            pipe = self.pipes[current]
            hwm = pipe._hwm
            if pipe._out_active and hwm > 0 and pipe._msgs_written - pipe._peer_msgs_read < hwm:
                out = pipe._out
                out.items.append(msg)
                pipe._msgs_written += 1
                if out.reader_asleep and not pipe._terminated:
                    # Pipe.flush: the reader found the pipe empty and waits for a signal.
                    out.reader_asleep = False
                    peer = pipe.peer
                    peer.owner.post(peer._process_activate_read, POLLIN)
                current += 1
                self.current = 0 if current >= self.active else current
                return True
        while self.active:
            current = self.current
            pipe = self.pipes[current]
            if pipe.write_flush(msg):
                current += 1  # advance(), inlined
                self.current = 0 if current >= self.active else current
                return True
            self.deactivate_current()
        return False

    def has_out(self) -> bool:
        while self.active:
            if self.pipes[self.current].check_write():
                return True
            self.deactivate_current()
        return False


class FairQueue(_Rotation):
    """Take one whole message from each readable pipe in turn."""

    __slots__ = ()

    def recv(self) -> tuple[Msg, Pipe] | None:
        while self.active:
            current = self.current
            pipe = self.pipes[current]
            msg = pipe.read()
            if msg is not None:
                current += 1  # advance(), inlined
                self.current = 0 if current >= self.active else current
                return msg, pipe
            if pipe.terminated and not self._still_current(pipe):
                continue  # reached its delimiter: pipe_terminated already removed it
            self.deactivate_current()
        return None

    def has_in(self) -> bool:
        while self.active:
            pipe = self.pipes[self.current]
            if pipe.check_read():
                return True
            if pipe.terminated and not self._still_current(pipe):
                continue
            self.deactivate_current()
        return False

    def _still_current(self, pipe: Pipe) -> bool:
        """A terminated pipe is normally removed by the owner's pipe_terminated; if it was not,
        deactivate it instead of looking at it forever."""
        return self.current < self.active and self.pipes[self.current] is pipe
