"""The ZAP decision logic (RFC 27 handler side), shared by every authenticator.

:class:`Authenticator` holds the policy (IP allow/deny lists, PLAIN passwords per domain, CURVE
keys per domain or "any key", CURVE callbacks) and answers one request with
:meth:`Authenticator.handle_zap_message`. It does no I/O of its own beyond the ZAP socket it is
given; :class:`zloop.auth.thread.ThreadAuthenticator` runs it in a thread.

Decisions, configuration and reply texts follow pyzmq 27's ``zmq.auth``, so programs behave the
same with either library:

* an address list is either an allow list or a deny list: ``allow()`` after ``deny()`` (or the
  reverse) raises ``ValueError``. With an allow list only listed addresses pass the address check,
  others are refused ("Address not allowed"); with a deny list listed addresses are refused
  ("Address denied");
* NULL: admitted unless the address was refused;
* PLAIN: even an allowed address must present a password of the request's domain ("*" when the
  domain is empty); user id = the user name; refusals say "No passwords defined", "Invalid domain",
  "Invalid username" or "Invalid password" (libzmq sends the client only the status code);
* CURVE: "any key" mode admits everyone, else the client key must be among the certificates
  loaded for the domain (or the domain's callback must accept it); user id = the Z85 key;
  ``configure_curve()`` without a location loads the certificates of the current directory, as
  pyzmq (``location=CURVE_ALLOW_ANY`` admits any key);
* GSSAPI: admitted with the principal as user id (pyzmq's rule; zloop itself has no GSSAPI, so
  only a foreign request could ask);
* the reply is 200 "OK" or 400 with the reason; a request whose decision failed is answered 500
  (:meth:`Authenticator.error_reply`: a REP must answer before it can read again).

Configuration methods are safe to call from any thread while the handler runs (one reentrant lock,
so a CURVE callback may itself change the policy). A CURVE callback may return an awaitable:
:meth:`Authenticator.decide` then raises :class:`PendingVerdict`, and whoever can await it does --
``handle_zap_message`` (a coroutine, as pyzmq's), the thread authenticator (in an event loop of its
own thread, as pyzmq's) and the asyncio, tornado and trio authenticators; the gevent authenticator
cannot and answers 500. The awaited result decides: an awaitable is never itself taken as a yes.

The context may be a zloop ``Context`` (also ``zloop.adapters.asyncio.Context``, a subclass) or a
trio/gevent adapter context wrapping one (its ``context``); the ZAP socket is always a plain zloop
socket of that context.
"""

from __future__ import annotations

import inspect
import logging
import os
from collections.abc import Awaitable, Iterable, Mapping, Sequence
from typing import Any, Protocol

from zloop import _real, z85
from zloop.auth.certs import load_certificates

__all__ = ["CURVE_ALLOW_ANY", "VERSION", "Authenticator", "CredentialsProvider", "PendingVerdict"]

#: ``configure_curve(location=CURVE_ALLOW_ANY)`` admits every CURVE client.
CURVE_ALLOW_ANY = "*"
VERSION = b"1.0"


class CredentialsProvider(Protocol):
    """What :meth:`Authenticator.configure_curve_callback` takes: an object with a ``callback`` method
    that decides which CURVE clients may connect (pyzmq's protocol of the same name).
    """

    def callback(self, domain: str, key: bytes) -> bool | Awaitable[bool]:
        """Decide whether a CURVE client may connect.

        Args:
            domain: The ZAP domain of the server socket (its ``ZAP_DOMAIN`` option).
            key: The client's long-term public key, Z85-encoded (40 bytes), as pyzmq passes it.

        Returns:
            True to accept the client. An in-loop authenticator (asyncio, tornado's IOLoop, trio) may be
            given an awaitable that resolves to the answer; the thread and gevent authenticators need
            the bool itself.
        """


class PendingVerdict(Exception):
    """Raised by :meth:`Authenticator.decide` when a CURVE callback returned an awaitable: await
    ``awaitable`` and call ``decide(msg, curve_verdict=bool(result))``."""

    def __init__(self, domain: str, awaitable: Awaitable[Any]) -> None:
        super().__init__(
            f"the CURVE callback of domain {domain!r} returned an awaitable; only an in-loop "
            "authenticator (zloop.auth.asyncio / ioloop / trio) can await it"
        )
        self.awaitable = awaitable

    def discard(self) -> None:
        """Close the awaitable unawaited (no "never awaited" warning)."""
        close = getattr(self.awaitable, "close", None)
        if close is not None:
            close()


def _zloop_context(context: Any) -> Any:
    """``context``, or the zloop Context a trio/gevent adapter context wraps."""
    from zloop.context import Context  # lazy: avoids an import cycle

    if isinstance(context, Context):
        return context
    inner = getattr(context, "context", None)
    return inner if isinstance(inner, Context) else context


class Authenticator:
    """ZAP policy and request handling; see the module docstring."""

    def __init__(
        self,
        context: Any = None,
        encoding: str = "utf-8",
        log: logging.Logger | None = None,
    ) -> None:
        if context is None:
            from zloop.context import Context  # lazy: avoids an import cycle

            context = Context.instance()
        self.context = _zloop_context(context)
        self.encoding = encoding
        self.log = log or logging.getLogger("zloop.auth")
        self.allow_addresses: set[str] = set()
        self.deny_addresses: set[str] = set()
        self.passwords: dict[str, dict[str, str]] = {}
        self.certs: dict[str, dict[bytes, bool]] = {}
        self.allow_any = False
        self.credentials_providers: dict[str, CredentialsProvider] = {}
        self.zap_socket: Any = None
        self._lock = _real.RLock()

    # -- life cycle -------------------------------------------------------------------------------

    def _socket(self, socket_type: int) -> Any:
        """A socket of our context: a plain zloop socket even from ``zloop.adapters.asyncio.Context``
        (whose ``socket()`` returns awaitable wrappers)."""
        from zloop.context import Context

        ctx = self.context
        return (
            Context.socket(ctx, socket_type)
            if isinstance(ctx, Context)
            else ctx.socket(socket_type)
        )

    def start(self) -> None:
        """Bind the ZAP socket (a REP at ``inproc://zeromq.zap.01``) in our context."""
        sock = self._socket(4)  # REP
        sock.linger = 1
        try:
            sock.bind("inproc://zeromq.zap.01")
        except Exception:
            sock.close(0)
            raise
        self.zap_socket = sock

    def stop(self) -> None:
        """Close the ZAP socket (unbinds the name)."""
        if self.zap_socket is not None:
            self.zap_socket.close(1)
        self.zap_socket = None

    # -- configuration ----------------------------------------------------------------------------

    def allow(self, *addresses: str) -> None:
        """Admit only these IP addresses (all others are refused once an allow list exists).

        Raises ``ValueError`` if addresses were denied: a list is allow or deny, not both (pyzmq).
        """
        with self._lock:
            if self.deny_addresses:
                raise ValueError("Only use allow or deny, not both")
            self.allow_addresses.update(addresses)

    def deny(self, *addresses: str) -> None:
        """Refuse these IP addresses (all others pass the address check).

        Raises ``ValueError`` if addresses were allowed: a list is allow or deny, not both (pyzmq).
        """
        with self._lock:
            if self.allow_addresses:
                raise ValueError("Only use allow or deny, not both")
            self.deny_addresses.update(addresses)

    def configure_plain(
        self, domain: str = "*", passwords: Mapping[str, str] | None = None
    ) -> None:
        """PLAIN users of ``domain`` ("*": requests without a domain): ``{username: password}``.

        No (or empty) ``passwords`` changes nothing, as in pyzmq.
        """
        if passwords:
            with self._lock:
                self.passwords[domain] = dict(passwords)

    def configure_curve(self, domain: str = "*", location: str | os.PathLike[str] = ".") -> None:
        """CURVE clients of ``domain``: the public keys of the ``*.key`` certificates in the
        directory ``location`` (the current directory by default, as pyzmq), or every client with
        ``location=CURVE_ALLOW_ANY``. Call it again after certificates were added or removed."""
        if location == CURVE_ALLOW_ANY:
            with self._lock:
                self.allow_any = True
            return
        with self._lock:
            self.allow_any = False
        try:
            certs = load_certificates(location)
        except Exception as exc:  # as pyzmq: a bad directory is logged, the domain is unchanged
            self.log.error(
                "zloop.auth: failed to load CURVE certificates from %s: %s", location, exc
            )
            return
        with self._lock:
            self.certs[domain] = certs

    def configure_curve_callback(
        self, domain: str = "*", credentials_provider: CredentialsProvider | None = None
    ) -> None:
        """CURVE clients of ``domain`` are decided by ``credentials_provider.callback(domain, key)``
        (``key``: the Z85 public key; the result, or the awaited result of an awaitable, admits
        when true). ``None`` is logged as an error and changes no provider, as in pyzmq."""
        with self._lock:
            self.allow_any = False
            if credentials_provider is None:
                self.log.error("zloop.auth: no credentials_provider given for domain %s", domain)
            else:
                self.credentials_providers[domain] = credentials_provider

    def configure_gssapi(self, domain: str = "*", location: str | None = None) -> None:
        """Nothing to configure (pyzmq's method is a no-op too; zloop has no GSSAPI)."""

    def curve_user_id(self, client_public_key: bytes) -> str:
        """The User-Id of an admitted CURVE client: its Z85 public key."""
        return z85.encode(client_public_key).decode("ascii")

    # -- requests ---------------------------------------------------------------------------------

    async def handle_zap_message(self, msg: list[bytes]) -> None:
        """Answer one request received on :attr:`zap_socket` (frames after the REP envelope).

        A coroutine, as pyzmq's: a CURVE callback's awaitable result is awaited here. Without an
        event loop of your own: ``asyncio.run(auth.handle_zap_message(msg))``.
        """
        try:
            reply = self.decide(msg)
        except PendingVerdict as pending:
            verdict = bool(await pending.awaitable)
            reply = self.decide(msg, curve_verdict=verdict)
        if reply is not None:
            self.zap_socket.send_multipart(reply)

    def error_reply(self, msg: Sequence[bytes], exc: BaseException | None = None) -> list[bytes]:
        """The 500 reply to ``msg`` when deciding it failed (with ``exc``, if known)."""
        if isinstance(exc, PendingVerdict):
            exc.discard()
        request_id = bytes(msg[1]) if len(msg) > 1 else b""
        return [VERSION, request_id, b"500", b"Internal error", b"", b""]

    def decide(
        self, msg: Iterable[bytes], *, curve_verdict: bool | None = None
    ) -> list[bytes] | None:
        """The reply frames for one request (None if it is too short to answer).

        Raises :class:`PendingVerdict` if the domain's CURVE callback returned an awaitable;
        ``curve_verdict`` is then its awaited result (used instead of calling the callback again).
        """
        frames = [bytes(f) for f in msg]
        if len(frames) < 6:
            self.log.error("zloop.auth: invalid ZAP request, %d frames", len(frames))
            if len(frames) < 2:
                return None
            return self._reply(frames[1], b"400", b"Not enough frames")
        version, request_id, domain_b, address_b, _identity, mechanism = frames[:6]
        credentials = frames[6:]
        if version != VERSION:
            self.log.error("zloop.auth: invalid ZAP version %r", version)
            return self._reply(request_id, b"400", b"Invalid version")
        domain = domain_b.decode(self.encoding, "replace")
        address = address_b.decode(self.encoding, "replace")
        with self._lock:
            allowed, reason, user_id = self._decide(
                domain, address, mechanism, credentials, curve_verdict
            )
        if allowed:
            return self._reply(request_id, b"200", b"OK", user_id)
        return self._reply(request_id, b"400", reason)

    def _decide(
        self,
        domain: str,
        address: str,
        mechanism: bytes,
        credentials: list[bytes],
        curve_verdict: bool | None = None,
    ) -> tuple[bool, bytes, str]:
        allowed = False
        denied = False
        reason = b"NO ACCESS"
        if self.allow_addresses:
            if address in self.allow_addresses:
                allowed = True
            else:
                denied, reason = True, b"Address not allowed"
        elif self.deny_addresses:
            if address in self.deny_addresses:
                denied, reason = True, b"Address denied"
            else:
                allowed = True
        user_id = "anonymous"
        if denied:
            self.log.debug("zloop.auth: DENIED address %s: %s", address, reason)
            return False, reason, user_id
        if mechanism == b"NULL":
            return True, b"OK", user_id
        if mechanism == b"PLAIN":
            if len(credentials) != 2:
                return False, b"Invalid credentials", user_id
            username, password = (c.decode(self.encoding, "replace") for c in credentials)
            allowed, reason = self._plain(domain, username, password)
            return allowed, reason, username
        if mechanism == b"CURVE":
            if len(credentials) != 1 or len(credentials[0]) != 32:
                return False, b"Invalid credentials", user_id
            key = credentials[0]
            allowed, reason = self._curve(domain, key, curve_verdict)
            return allowed, reason, self.curve_user_id(key) if allowed else user_id
        if mechanism == b"GSSAPI":
            if len(credentials) != 1:
                return False, b"Invalid credentials", user_id
            # As pyzmq: the GSS service authenticated the principal; it becomes the user id.
            return True, b"OK", credentials[0].decode("utf-8", "replace")
        return False, reason, user_id

    def _plain(self, domain: str, username: str, password: str) -> tuple[bool, bytes]:
        if not self.passwords:
            return False, b"No passwords defined"
        domain = domain or "*"
        users = self.passwords.get(domain)
        if users is None:
            return False, b"Invalid domain"
        if username not in users:
            return False, b"Invalid username"
        if users[username] != password:
            return False, b"Invalid password"
        return True, b"OK"

    def _curve(self, domain: str, key: bytes, verdict: bool | None = None) -> tuple[bool, bytes]:
        if self.allow_any:
            return True, b"OK"
        domain = domain or "*"
        z85_key = z85.encode(key)
        provider = self.credentials_providers.get(domain)
        if provider is not None:
            if verdict is None:
                result = provider.callback(domain, z85_key)
                if inspect.isawaitable(result):
                    raise PendingVerdict(domain, result)
                verdict = bool(result)
            if verdict:
                return True, b"OK"
            return False, b"Unknown key"
        certs = self.certs.get(domain)
        if certs is None:
            return False, b"Unknown domain"
        if certs.get(z85_key):
            return True, b"OK"
        return False, b"Unknown key"

    def _reply(
        self, request_id: bytes, status: bytes, text: bytes, user_id: str = ""
    ) -> list[bytes]:
        self.log.debug("zloop.auth: ZAP reply %s %s", status, text)
        user = user_id.encode(self.encoding, "replace") if status == b"200" else b""
        return [VERSION, request_id, status, text, user, b""]
