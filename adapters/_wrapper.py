"""The loop-independent half of every adapter's socket wrapper, written once.

A loop module's ``Socket`` wraps a zloop or pyzmq socket and adds the loop's way of waiting (an
awaitable, a parked greenlet...). Everything that does not depend on the loop lives here:

* :func:`flavour` — the error module (``zmq`` or ``zloop``) matching a wrapped socket;
* :class:`SocketWrapper` — holding the raw socket (``socket``), unwrapping a wrapper of the same
  adapter, ``from_socket``, ``repr``, attribute pass-through (reads, and writes as pyzmq's sockets
  take them: ``w.linger = 0`` and ``w.subscribe = b"a"`` reach the socket, a misspelt option raises
  ``AttributeError``), ``closed``, ``getsockopt``/``get``/
  ``EVENTS`` (``EVENTS`` answered through the adapter's watcher when it has one, so a message given
  back by a cancelled receive counts), and the ``with`` statement;
* :class:`SyncConveniences` / :class:`AsyncConveniences` (:class:`AsyncSendConveniences`, its
  sending half, for the asyncio adapter whose receives are Futures) — pyzmq's ``send_string / recv_string /
  send_unicode / recv_unicode / send_json / recv_json / send_pyobj / recv_pyobj / send_serialized /
  recv_serialized`` (its signatures, defaults and errors) on top of the adapter's own
  ``send``/``recv``/``send_multipart``/``recv_multipart``, once blocking, once awaitable; the
  conversions themselves (:func:`string_bytes`, :func:`json_bytes`, :func:`json_value`) are shared;
* :class:`GroupWaiter` — one of the poll waiters of a ``Poller.poll`` call whose first completion
  wakes the one waiting task or greenlet;
* :class:`PollerItems` — a ``Poller``'s ``register / modify / unregister`` bookkeeping.

A loop module subclasses with ``class Socket(SocketWrapper, adapter="trio")`` and supplies the
operations (``send``, ``recv``, ``poll``...), ``close`` and :meth:`SocketWrapper._watched_events`.
"""

from __future__ import annotations

import inspect
import json
import pickle
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, ClassVar, Final, Protocol, TypeVar

__all__ = [
    "AsyncConveniences",
    "AsyncSendConveniences",
    "GroupWaiter",
    "PollerItems",
    "SocketWrapper",
    "SyncConveniences",
    "flavour",
    "json_bytes",
    "json_value",
    "string_bytes",
]

_EVENTS: Final = 15
_POLLIN_POLLOUT: Final = 3

_W = TypeVar("_W", bound="SocketWrapper")
_R = TypeVar("_R")


#: (class, name) pairs found declared by :func:`_declared`.
_declared_seen: set[tuple[type, str]] = set()


def _declared(cls: type, name: str) -> bool:
    """Is ``name`` defined or annotated in ``cls`` or a base (pyzmq's rule for socket attributes)?"""
    key = (cls, name)
    if key in _declared_seen:
        return True
    if any(name in k.__dict__ or name in inspect.get_annotations(k) for k in cls.__mro__):
        _declared_seen.add(key)
        return True
    return False


def flavour(sock: Any) -> Any:
    """The error module of ``sock``'s flavour: ``zmq`` for pyzmq sockets, else ``zloop``."""
    if type(sock).__module__.split(".")[0] == "zmq":
        import zmq

        return zmq
    import zloop

    return zloop


class SocketWrapper:
    """A loop's socket wrapper over a zloop or pyzmq socket. Other attributes are the wrapped socket's.

    Subclass with ``adapter="<loop>"``: that class is the one whose instances :meth:`from_socket`
    and ``__init__`` unwrap (its subclasses included), and its ``repr`` reads
    ``<zloop.adapters.<loop>.Socket ...>`` unless it sets ``_repr_head`` itself.
    """

    _sock: Any
    _zmod: Any  # zmq or zloop, as the wrapped socket (its ZMQError, Again, errno names)
    _wrapper_root: ClassVar[type[SocketWrapper]]
    _repr_head: ClassVar[str]

    def __init_subclass__(cls, *, adapter: str | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if adapter is not None:
            cls._wrapper_root = cls
            if "_repr_head" not in cls.__dict__:
                cls._repr_head = f"zloop.adapters.{adapter}.Socket"

    def __init__(self, sock: Any) -> None:
        self._attach(self._unwrap(sock))

    def _attach(self, sock: Any) -> None:
        # object.__setattr__: a subclass may route public attribute writes to the socket.
        object.__setattr__(self, "_sock", sock)
        object.__setattr__(self, "_zmod", flavour(sock))

    @classmethod
    def _unwrap(cls, sock: Any) -> Any:
        """The raw socket of a wrapper of this adapter, else ``sock`` itself."""
        return sock._sock if isinstance(sock, cls._wrapper_root) else sock

    @classmethod
    def _wrap_raw(cls: type[_W], sock: Any) -> _W:
        """A new wrapper of the raw socket ``sock`` (a subclass with another ``__init__`` overrides)."""
        return cls(sock)

    @classmethod
    def from_socket(cls: type[_W], sock: Any) -> _W:
        """Wrap an existing zloop or pyzmq socket (it stays usable synchronously, but do not
        send/recv on it directly while waiting through the wrapper)."""
        return cls._wrap_raw(cls._unwrap(sock))

    def __repr__(self) -> str:
        return f"<{self._repr_head} {self._sock!r}>"

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)

    def __setattr__(self, name: str, value: Any) -> None:
        # As on pyzmq's sockets (zmq.green's and zmq.asyncio's included): a name the wrapper has
        # (set on it, or defined or annotated in its class or a subclass) is the wrapper's; any
        # other goes to the socket, where options are attributes and anything else raises
        # AttributeError (``w.lingr = 0``).
        if name in self.__dict__ or _declared(type(self), name):
            object.__setattr__(self, name, value)
        else:
            setattr(self._sock, name, value)

    @property
    def socket(self) -> Any:
        """The wrapped zloop or pyzmq socket."""
        return self._sock

    @property
    def closed(self) -> bool:
        """True once the wrapped socket was closed."""
        return bool(self._sock.closed)

    def _watched_events(self) -> int | None:
        """``EVENTS`` through the adapter's watcher of the socket, or None to ask the socket itself."""
        return None

    def getsockopt(self, option: int) -> Any:
        """The socket's option; ``EVENTS`` includes a message given back by a cancelled recv."""
        if option == _EVENTS:
            events = self._watched_events()
            if events is not None:
                return events
        return self._sock.getsockopt(option)

    get = getsockopt

    @property
    def EVENTS(self) -> int:
        """What the socket is ready for (``POLLIN``/``POLLOUT``), counting a message that a cancelled
        receive gave back to the wrapper.
        """
        return int(self.getsockopt(_EVENTS))

    def close(self, linger: int | None = None) -> None:
        """Close the socket; each adapter says what happens to calls still waiting on it.

        Args:
            linger: If given, the LINGER (milliseconds) to close with.
        """
        raise NotImplementedError

    def __enter__(self: _W) -> _W:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


SocketWrapper._wrapper_root = SocketWrapper


# -- conveniences ------------------------------------------------------------------------------------
#
# pyzmq 27's zmq.Socket / zmq.asyncio.Socket conveniences, same names, parameters, defaults and
# errors (tests/adapters/test_adapter_api_parity.py compares them with inspect.signature):
#   send_string(u, flags=0, copy=True, encoding="utf-8", **kwargs)   non-str: TypeError("str objects only")
#   recv_string(flags=0, encoding="utf-8");  send_unicode / recv_unicode are the same functions
#   send_json(obj, flags=0, **kwargs)    kwargs to json.dumps, except routing_id / group (to send)
#   recv_json(flags=0, **kwargs)         kwargs to json.loads (the frame decoded as UTF-8)
#   send_pyobj(obj, flags=0, protocol=pickle.DEFAULT_PROTOCOL, **kwargs)   kwargs to send
#   recv_pyobj(flags=0)
#   send_serialized(msg, serialize, flags=0, copy=True, **kwargs)   serialize(msg) -> send_multipart
#   recv_serialized(deserialize, flags=0, copy=True)   deserialize(recv_multipart(...))
# As in zmq.asyncio, the awaitable sends are plain functions returning the awaitable of send /
# send_multipart: a bad argument (a non-str, an unpicklable object) raises at the call.

#: Keyword arguments of ``send_json`` that go to ``send`` rather than to ``json.dumps``.
_SEND_KEYWORDS: Final = ("routing_id", "group")


def string_bytes(u: str, encoding: str) -> bytes:
    """``u`` encoded for ``send_string`` (TypeError, as pyzmq's, when it is not a str)."""
    if not isinstance(u, str):
        raise TypeError("str objects only")
    return u.encode(encoding)


def json_bytes(obj: Any, kwargs: dict[str, Any]) -> tuple[bytes, dict[str, Any]]:
    """``send_json``'s frame and the keyword arguments meant for ``send`` (taken out of ``kwargs``)."""
    send_kwargs: dict[str, Any] = {key: kwargs.pop(key) for key in _SEND_KEYWORDS if key in kwargs}
    return json.dumps(obj, **kwargs).encode("utf-8"), send_kwargs


def json_value(data: Any, kwargs: dict[str, Any]) -> Any:
    """``recv_json``'s value of a received frame."""
    text = data.decode("utf-8") if isinstance(data, bytes) else data
    return json.loads(text, **kwargs)


class _SyncSocket(Protocol):
    def send(self, data: Any, flags: int = ..., copy: bool = ..., track: bool = ...) -> Any: ...

    def recv(self, flags: int = ..., copy: bool = ..., track: bool = ...) -> Any: ...

    def send_multipart(
        self, msg_parts: Any, flags: int = ..., copy: bool = ..., track: bool = ...
    ) -> Any: ...

    def recv_multipart(self, flags: int = ..., copy: bool = ..., track: bool = ...) -> Any: ...


class _AsyncSocket(Protocol):
    def send(
        self, data: Any, flags: int = ..., copy: bool = ..., track: bool = ...
    ) -> Awaitable[Any]: ...

    def recv(self, flags: int = ..., copy: bool = ..., track: bool = ...) -> Awaitable[Any]: ...

    def send_multipart(
        self, msg_parts: Any, flags: int = ..., copy: bool = ..., track: bool = ...
    ) -> Awaitable[Any]: ...

    def recv_multipart(
        self, flags: int = ..., copy: bool = ..., track: bool = ...
    ) -> Awaitable[Any]: ...


class SyncConveniences:
    """pyzmq's conveniences (see the table above) for a wrapper whose ``send``/``recv`` block."""

    def send_string(
        self: _SyncSocket,
        u: str,
        flags: int = 0,
        copy: bool = True,
        encoding: str = "utf-8",
        **kwargs: Any,
    ) -> Any:
        """Send a ``str`` as one frame, encoded (waiting as this adapter's :meth:`send` does).

        Args:
            u: The text.
            flags: As for ``send``.
            copy: As for ``send``.
            encoding: The codec (UTF-8 by default).
            **kwargs: Passed to ``send``.

        Returns:
            What ``send`` returns.

        Raises:
            TypeError: If ``u`` is not a ``str``.
        """
        return self.send(string_bytes(u, encoding), flags=flags, copy=copy, **kwargs)

    send_unicode = send_string

    def recv_string(self: _SyncSocket, flags: int = 0, encoding: str = "utf-8") -> str:
        """Receive one frame and decode it to a ``str``.

        Args:
            flags: As for ``recv``.
            encoding: The codec (UTF-8 by default).

        Returns:
            The text.
        """
        data = self.recv(flags=flags)
        return str(data.decode(encoding))

    recv_unicode = recv_string

    def send_json(self: _SyncSocket, obj: Any, flags: int = 0, **kwargs: Any) -> Any:
        """Send an object as one frame of JSON (UTF-8).

        Args:
            obj: What ``json.dumps`` accepts.
            flags: As for ``send``.
            **kwargs: Passed to ``json.dumps``, except ``routing_id`` and ``group`` (to ``send``).

        Returns:
            What ``send`` returns.
        """
        data, send_kwargs = json_bytes(obj, kwargs)
        return self.send(data, flags=flags, **send_kwargs)

    def recv_json(self: _SyncSocket, flags: int = 0, **kwargs: Any) -> Any:
        """Receive one frame of JSON (UTF-8) and decode it.

        Args:
            flags: As for ``recv``.
            **kwargs: Passed to ``json.loads``.

        Returns:
            The decoded object.
        """
        return json_value(self.recv(flags=flags), kwargs)

    def send_pyobj(
        self: _SyncSocket,
        obj: Any,
        flags: int = 0,
        protocol: int = pickle.DEFAULT_PROTOCOL,
        **kwargs: Any,
    ) -> Any:
        """Send any picklable object as one pickled frame (exchange pickles with trusted peers only).

        Args:
            obj: The object.
            flags: As for ``send``.
            protocol: The pickle protocol.
            **kwargs: Passed to ``send``.

        Returns:
            What ``send`` returns.
        """
        return self.send(pickle.dumps(obj, protocol), flags=flags, **kwargs)

    def recv_pyobj(self: _SyncSocket, flags: int = 0) -> Any:
        """Receive one frame and unpickle it (unpickling runs the sender's code: trusted peers only).

        Args:
            flags: As for ``recv``.

        Returns:
            The object.
        """
        return pickle.loads(self.recv(flags=flags))

    def send_serialized(
        self: _SyncSocket,
        msg: Any,
        serialize: Callable[[Any], Sequence[Any]],
        flags: int = 0,
        copy: bool = True,
        **kwargs: Any,
    ) -> Any:
        """Send the frames that ``serialize(msg)`` returns, as one message.

        Args:
            msg: The object to send.
            serialize: Turns ``msg`` into a sequence of frames.
            flags: As for ``send_multipart``.
            copy: As for ``send_multipart``.
            **kwargs: Passed to ``send_multipart``.

        Returns:
            What ``send_multipart`` returns.
        """
        return self.send_multipart(serialize(msg), flags=flags, copy=copy, **kwargs)

    def recv_serialized(
        self: _SyncSocket,
        deserialize: Callable[[list[Any]], _R],
        flags: int = 0,
        copy: bool = True,
    ) -> _R:
        """Receive a message and turn it into an object.

        Args:
            deserialize: Called with the message's list of frames.
            flags: As for ``recv_multipart``.
            copy: As for ``recv_multipart``.

        Returns:
            What ``deserialize`` returns.
        """
        return deserialize(self.recv_multipart(flags=flags, copy=copy))


class AsyncSendConveniences:
    """pyzmq's sending conveniences (see the table above) for a wrapper whose ``send`` and
    ``send_multipart`` return awaitables (coroutines or Futures): each returns that awaitable."""

    def send_string(
        self: _AsyncSocket,
        u: str,
        flags: int = 0,
        copy: bool = True,
        encoding: str = "utf-8",
        **kwargs: Any,
    ) -> Awaitable[Any]:
        """Send a ``str`` as one frame, encoded.

        Args:
            u: The text.
            flags: As for ``send``.
            copy: As for ``send``.
            encoding: The codec (UTF-8 by default).
            **kwargs: Passed to ``send``.

        Returns:
            The awaitable ``send`` returns.

        Raises:
            TypeError: If ``u`` is not a ``str`` (at the call, not when awaited).
        """
        return self.send(string_bytes(u, encoding), flags=flags, copy=copy, **kwargs)

    send_unicode = send_string

    def send_json(self: _AsyncSocket, obj: Any, flags: int = 0, **kwargs: Any) -> Awaitable[Any]:
        """Send an object as one frame of JSON (UTF-8).

        Args:
            obj: What ``json.dumps`` accepts.
            flags: As for ``send``.
            **kwargs: Passed to ``json.dumps``, except ``routing_id`` and ``group`` (to ``send``).

        Returns:
            The awaitable ``send`` returns.
        """
        data, send_kwargs = json_bytes(obj, kwargs)
        return self.send(data, flags=flags, **send_kwargs)

    def send_pyobj(
        self: _AsyncSocket,
        obj: Any,
        flags: int = 0,
        protocol: int = pickle.DEFAULT_PROTOCOL,
        **kwargs: Any,
    ) -> Awaitable[Any]:
        """Send any picklable object as one pickled frame (exchange pickles with trusted peers only).

        Args:
            obj: The object.
            flags: As for ``send``.
            protocol: The pickle protocol.
            **kwargs: Passed to ``send``.

        Returns:
            The awaitable ``send`` returns.
        """
        return self.send(pickle.dumps(obj, protocol), flags=flags, **kwargs)

    def send_serialized(
        self: _AsyncSocket,
        msg: Any,
        serialize: Callable[[Any], Sequence[Any]],
        flags: int = 0,
        copy: bool = True,
        **kwargs: Any,
    ) -> Awaitable[Any]:
        """Send the frames that ``serialize(msg)`` returns, as one message.

        Args:
            msg: The object to send.
            serialize: Turns ``msg`` into a sequence of frames.
            flags: As for ``send_multipart``.
            copy: As for ``send_multipart``.
            **kwargs: Passed to ``send_multipart``.

        Returns:
            The awaitable ``send_multipart`` returns.
        """
        return self.send_multipart(serialize(msg), flags=flags, copy=copy, **kwargs)


class AsyncConveniences(AsyncSendConveniences):
    """pyzmq's conveniences (see the table above) for a wrapper whose ``send``/``recv`` are
    coroutines (trio): the sends return ``send``'s (``send_multipart``'s) awaitable, the receives
    are coroutines. (The asyncio adapter's receives are Futures of one decoding receive instead.)"""

    async def recv_string(self: _AsyncSocket, flags: int = 0, encoding: str = "utf-8") -> str:
        """Receive one frame and decode it to a ``str`` (a coroutine).

        Args:
            flags: As for ``recv``.
            encoding: The codec (UTF-8 by default).

        Returns:
            The text.
        """
        data = await self.recv(flags=flags)
        return str(data.decode(encoding))

    recv_unicode = recv_string

    async def recv_json(self: _AsyncSocket, flags: int = 0, **kwargs: Any) -> Any:
        """Receive one frame of JSON (UTF-8) and decode it (a coroutine).

        Args:
            flags: As for ``recv``.
            **kwargs: Passed to ``json.loads``.

        Returns:
            The decoded object.
        """
        return json_value(await self.recv(flags=flags), kwargs)

    async def recv_pyobj(self: _AsyncSocket, flags: int = 0) -> Any:
        """Receive one frame and unpickle it (a coroutine; trusted peers only).

        Args:
            flags: As for ``recv``.

        Returns:
            The object.
        """
        return pickle.loads(await self.recv(flags=flags))

    async def recv_serialized(
        self: _AsyncSocket,
        deserialize: Callable[[list[Any]], _R],
        flags: int = 0,
        copy: bool = True,
    ) -> _R:
        """Receive a message and turn it into an object (a coroutine).

        Args:
            deserialize: Called with the message's list of frames.
            flags: As for ``recv_multipart``.
            copy: As for ``recv_multipart``.

        Returns:
            What ``deserialize`` returns.
        """
        return deserialize(await self.recv_multipart(flags=flags, copy=copy))


# -- polling -----------------------------------------------------------------------------------------


class _Group(Protocol):
    _done: bool

    def set_result(self, value: Any, /) -> None: ...

    def set_exception(self, exc: BaseException, /) -> None: ...


class GroupWaiter:
    """One of several poll waiters of a ``Poller.poll`` call: the first completion wakes ``group``
    (the call's one loop-native waiter, completed with None)."""

    __slots__ = ("group",)

    def __init__(self, group: _Group) -> None:
        self.group = group

    def done(self) -> bool:
        return self.group._done

    def set_result(self, value: Any, /) -> None:
        self.group.set_result(None)

    def set_exception(self, exc: BaseException, /) -> None:
        self.group.set_exception(exc)


class PollerItems:
    """A ``Poller``'s registered ``(item, flags)`` pairs in registration order (``sockets``), looked
    up by identity. Registering again modifies; flags 0 unregisters."""

    def __init__(self) -> None:
        self.sockets: list[tuple[Any, int]] = []
        self._map: dict[int, int] = {}

    def _check_item(self, socket: Any) -> None:
        """Raise if ``socket`` cannot be polled by this Poller (default: anything can)."""

    def register(self, socket: Any, flags: int = _POLLIN_POLLOUT) -> None:
        """Poll ``socket`` for ``flags``; registering it again changes its flags, and flags 0 unregisters.

        Args:
            socket: A zloop or pyzmq socket (or an adapter's socket over one), an object with
                ``fileno()`` or an fd, as the adapter's Poller accepts.
            flags: ``POLLIN`` and/or ``POLLOUT``.
        """
        self._check_item(socket)
        if id(socket) in self._map:
            self.modify(socket, flags)
        elif flags:
            self._map[id(socket)] = len(self.sockets)
            self.sockets.append((socket, flags))

    def modify(self, socket: Any, flags: int = _POLLIN_POLLOUT) -> None:
        """Change the flags of a registered item (registers it if it is not; flags 0 unregisters).

        Args:
            socket: The item.
            flags: ``POLLIN`` and/or ``POLLOUT``.
        """
        if id(socket) not in self._map:
            self.register(socket, flags)
        elif not flags:
            self.unregister(socket)
        else:
            self.sockets[self._map[id(socket)]] = (socket, flags)

    def unregister(self, socket: Any) -> None:
        """Stop polling an item.

        Args:
            socket: A registered item.

        Raises:
            KeyError: If it is not registered.
        """
        index = self._map.pop(id(socket))
        self.sockets.pop(index)
        for i, (s, _) in enumerate(self.sockets[index:], index):
            self._map[id(s)] = i
