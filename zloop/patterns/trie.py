"""Subscription tries for the publish-subscribe sockets (libzmq's ``trie_t`` and ``mtrie_t``).

A subscription is a byte string; a message matches it when its first frame *starts with* it, so
``b""`` matches everything. Both tries are keyed byte by byte: matching walks the first frame from
the root and stops as soon as no deeper subscription can exist, so its cost is bounded by the length
of the longest subscription, not by the size of the frame or the number of subscriptions.

* :class:`Trie` (SUB/XSUB side) counts references: subscribing twice needs two unsubscribes.
* :class:`MultiTrie` (PUB/XPUB side) keeps per prefix the *set* of subscribers (pipes); a repeated
  subscribe from one subscriber changes nothing. A reverse index (subscriber -> its prefixes) makes
  dropping a subscriber cost what it had subscribed to, not the size of the trie.

Empty branches are pruned on removal, so memory follows the live subscriptions.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Hashable, Iterator
from typing import Any, Generic, Protocol, TypeVar

T = TypeVar("T", bound=Hashable)


class _Branch(Protocol):
    children: dict[int, Any]

    def holds(self) -> bool: ...


N = TypeVar("N", bound=_Branch)


class _Node:
    __slots__ = ("children", "count")

    def __init__(self) -> None:
        self.children: dict[int, _Node] = {}
        self.count = 0

    def holds(self) -> bool:
        return self.count != 0


class Trie:
    """Reference-counted prefixes (libzmq ``trie_t``)."""

    __slots__ = ("_root", "_size")

    def __init__(self) -> None:
        self._root = _Node()
        self._size = 0  # distinct prefixes with a non-zero count

    def __len__(self) -> int:
        return self._size

    def add(self, prefix: bytes) -> bool:
        """Add one reference; True if ``prefix`` was not subscribed before."""
        node = self._root
        for byte in prefix:
            child = node.children.get(byte)
            if child is None:
                child = node.children[byte] = _Node()
            node = child
        node.count += 1
        if node.count == 1:
            self._size += 1
            return True
        return False

    def rm(self, prefix: bytes) -> bool:
        """Drop one reference; True if that was the last one (False also when it was unknown)."""
        node = self._root
        path: list[tuple[_Node, int]] = []
        for byte in prefix:
            child = node.children.get(byte)
            if child is None:
                return False
            path.append((node, byte))
            node = child
        if node.count == 0:
            return False
        node.count -= 1
        if node.count:
            return False
        self._size -= 1
        _prune(path, node)
        return True

    def count(self, prefix: bytes) -> int:
        """References held on exactly ``prefix``."""
        node: _Node | None = self._root
        for byte in prefix:
            assert node is not None
            node = node.children.get(byte)
            if node is None:
                return 0
        assert node is not None
        return node.count

    def check(self, data: bytes) -> bool:
        """Does some subscribed prefix start ``data``?"""
        node = self._root
        if node.count:
            return True
        for byte in data:
            child = node.children.get(byte)
            if child is None:
                return False
            if child.count:
                return True
            node = child
        return False

    def __iter__(self) -> Iterator[bytes]:
        """Every subscribed prefix once, in byte order."""
        for prefix, node in _walk(self._root):
            if node.count:
                yield prefix


def _prune(path: list[tuple[N, int]], node: N) -> None:
    """Remove ``node`` and its ancestors while they hold nothing (walking ``path`` upwards)."""
    while path and not node.children and not node.holds():
        parent, byte = path.pop()
        del parent.children[byte]
        node = parent


def _walk(root: N) -> Iterator[tuple[bytes, N]]:
    """Every node with its prefix, in byte order."""
    stack: list[tuple[bytes, N]] = [(b"", root)]
    while stack:
        prefix, node = stack.pop()
        yield prefix, node
        children = node.children
        for byte in sorted(children, reverse=True):
            stack.append((prefix + bytes((byte,)), children[byte]))


class _MNode(Generic[T]):
    __slots__ = ("children", "values")

    def __init__(self) -> None:
        self.children: dict[int, _MNode[T]] = {}
        self.values: set[T] = set()

    def holds(self) -> bool:
        return bool(self.values)


class RmResult(enum.Enum):
    """What :meth:`MultiTrie.rm` found (libzmq ``mtrie_t::rm_result``)."""

    NOT_FOUND = 0
    LAST_VALUE_REMOVED = 1
    VALUES_REMAIN = 2


class MultiTrie(Generic[T]):
    """Prefixes, each with the set of subscribers that want it (libzmq ``mtrie_t``)."""

    __slots__ = ("_by_value", "_root")

    def __init__(self) -> None:
        self._root: _MNode[T] = _MNode()
        self._by_value: dict[T, set[bytes]] = {}

    def __len__(self) -> int:
        """Number of (prefix, subscriber) pairs."""
        return sum(len(prefixes) for prefixes in self._by_value.values())

    def add(self, prefix: bytes, value: T) -> bool:
        """Subscribe ``value`` to ``prefix``; True if nobody had subscribed to it before."""
        node = self._root
        for byte in prefix:
            child = node.children.get(byte)
            if child is None:
                child = node.children[byte] = _MNode()
            node = child
        first = not node.values
        node.values.add(value)
        self._by_value.setdefault(value, set()).add(prefix)
        return first

    def rm(self, prefix: bytes, value: T) -> RmResult:
        """Unsubscribe ``value`` from ``prefix``."""
        node = self._root
        path: list[tuple[_MNode[T], int]] = []
        for byte in prefix:
            child = node.children.get(byte)
            if child is None:
                return RmResult.NOT_FOUND
            path.append((node, byte))
            node = child
        if value not in node.values:
            return RmResult.NOT_FOUND
        node.values.discard(value)
        self._forget(value, prefix)
        if node.values:
            return RmResult.VALUES_REMAIN
        _prune(path, node)
        return RmResult.LAST_VALUE_REMOVED

    def rm_value(
        self, value: T, removed: Callable[[bytes], None] | None = None, only_last: bool = True
    ) -> None:
        """Drop every subscription of ``value``; call ``removed(prefix)`` for each prefix it had
        (``only_last``: only for those nobody else wants any more), in byte order."""
        for prefix in sorted(self._by_value.get(value, ())):
            result = self.rm(prefix, value)
            if removed is not None and (result is RmResult.LAST_VALUE_REMOVED or not only_last):
                removed(prefix)

    def _forget(self, value: T, prefix: bytes) -> None:
        prefixes = self._by_value.get(value)
        if prefixes is not None:
            prefixes.discard(prefix)
            if not prefixes:
                del self._by_value[value]

    def prefixes_of(self, value: T) -> set[bytes]:
        """The prefixes ``value`` is subscribed to."""
        return set(self._by_value.get(value, ()))

    def match(self, data: bytes) -> set[T]:
        """Every subscriber with a prefix that starts ``data``."""
        node = self._root
        found: set[T] = set(node.values)
        for byte in data:
            child = node.children.get(byte)
            if child is None:
                break
            node = child
            if node.values:
                found |= node.values
        return found

    def __iter__(self) -> Iterator[bytes]:
        """Every prefix somebody is subscribed to, once, in byte order."""
        for prefix, node in _walk(self._root):
            if node.values:
                yield prefix
