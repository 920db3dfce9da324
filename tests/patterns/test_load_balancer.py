"""LoadBalancer (PUSH, DEALER): round robin over the pipes with room, with the shortcut that queues
on the current pipe directly while it is below its high-water mark. Commands posted between the
ends are queued and run explicitly, so every interleaving here is deterministic."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from zloop.patterns.lb import LoadBalancer
from zloop.pipe import POLLIN, Pipe, pipe_pair


class Owner:
    """A pipe owner whose posted commands wait in a list until :meth:`run`."""

    def __init__(self, lb: LoadBalancer | None = None) -> None:
        self.lb = lb
        self.posted: list[tuple[Callable[[], Any], int]] = []
        self.read_woken: list[Pipe] = []
        self.terminated: list[Pipe] = []

    def post(self, command: Callable[[], Any], hint: int) -> None:
        self.posted.append((command, hint))

    def run(self) -> None:
        while self.posted:
            command, _ = self.posted.pop(0)
            command()

    def read_activated(self, pipe: Pipe) -> None:
        self.read_woken.append(pipe)

    def write_activated(self, pipe: Pipe) -> None:
        if self.lb is not None:
            self.lb.activated(pipe)

    def pipe_terminated(self, pipe: Pipe) -> None:
        self.terminated.append(pipe)
        if self.lb is not None:
            self.lb.remove(pipe)


def balancer(hwms: list[int]) -> tuple[LoadBalancer, Owner, list[Pipe], list[Owner]]:
    """A balancer over one pipe per entry of ``hwms`` (the writer's limit towards that reader)."""
    lb = LoadBalancer()
    writer_owner = Owner(lb)
    readers = []
    reader_owners = []
    for hwm in hwms:
        reader_owner = Owner()
        writer, reader = pipe_pair(writer_owner, reader_owner, hwm, hwm)
        lb.attach(writer)
        readers.append(reader)
        reader_owners.append(reader_owner)
    return lb, writer_owner, readers, reader_owners


def drain(reader: Pipe) -> list[Any]:
    got = []
    while (msg := reader.read()) is not None:
        got.append(msg)
    return got


def test_round_robin_in_order() -> None:
    lb, _, readers, _ = balancer([10, 10, 10])
    for n in range(9):
        assert lb.send([n])
    got = [drain(reader) for reader in readers]
    assert sorted(msg[0] for msgs in got for msg in msgs) == list(range(9))
    for msgs in got:
        values = [msg[0] for msg in msgs]
        assert len(values) == 3
        assert values == [values[0], values[0] + 3, values[0] + 6]


def test_unlimited_pipes_take_the_general_path_in_turn() -> None:
    lb, _, readers, _ = balancer([0, 0])
    for n in range(6):
        assert lb.send([n])
    assert [[m[0] for m in drain(r)] for r in readers] in (
        [[0, 2, 4], [1, 3, 5]],
        [[1, 3, 5], [0, 2, 4]],
    )


def test_a_full_pipe_is_skipped() -> None:
    lb, _, readers, _ = balancer([1, 5])
    sent = 0
    while lb.send([sent]):
        sent += 1
    assert sent == 6  # 1 + 5: nothing lost, nothing beyond either HWM
    assert [m[0] for m in drain(readers[0])] == [0]
    assert [m[0] for m in drain(readers[1])] == [1, 2, 3, 4, 5]


def test_a_refilled_pipe_comes_back_into_the_rotation() -> None:
    lb, writer_owner, readers, reader_owners = balancer([2, 2])
    for n in range(4):
        assert lb.send([n])
    assert not lb.send([4])
    # One reader reads enough to pass its low-water mark: activate_write reaches the writer.
    assert [m[0] for m in drain(readers[1])] == [1, 3]
    writer_owner.run()
    assert lb.send([5])
    assert lb.send([6])
    assert not lb.send([7])
    reader_owners[1].run()  # the reader had found its pipe empty: activate_read
    assert [m[0] for m in drain(readers[1])] == [5, 6]
    assert [m[0] for m in drain(readers[0])] == [0, 2]


def test_a_multipart_message_stays_on_one_pipe() -> None:
    lb, _, readers, _ = balancer([10, 10])
    assert lb.send([b"a1", b"a2", b"a3"])
    assert lb.send([b"b1", b"b2"])
    got = [drain(reader) for reader in readers]
    assert sorted(got) == [[[b"a1", b"a2", b"a3"]], [[b"b1", b"b2"]]]


def test_a_sleeping_reader_is_woken_once() -> None:
    lb, _, readers, reader_owners = balancer([10])
    assert readers[0].read() is None  # found empty: the reader waits for activate_read
    assert lb.send([1])
    assert lb.send([2])
    assert [hint for _, hint in reader_owners[0].posted] == [POLLIN]
    reader_owners[0].run()
    assert reader_owners[0].read_woken == readers
    assert [m[0] for m in drain(readers[0])] == [1, 2]


def test_pipe_termination_mid_rotation() -> None:
    lb, writer_owner, readers, _ = balancer([10, 10, 10])
    assert lb.send([0])
    gone = readers[1]
    gone_writer = gone.peer
    gone.terminate()
    writer_owner.run()  # the writer end learns of it; its owner removes it from the rotation
    sent = list(range(1, 9))
    for n in sent:
        assert lb.send([n])
    assert gone_writer not in lb.pipes[: lb.active]
    got = [[m[0] for m in drain(reader)] for reader in (readers[0], readers[2])]
    assert sorted(got[0] + got[1]) == list(range(9))  # none lost, none to the ended pipe
    assert abs(len(got[0]) - len(got[1])) <= 1
    assert drain(gone) == []


def test_every_pipe_terminated() -> None:
    lb, writer_owner, readers, _ = balancer([10, 10])
    for reader in readers:
        reader.terminate()
    writer_owner.run()
    assert not lb.send([1])
