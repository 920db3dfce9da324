"""Authentication for zloop sockets: ZAP handlers (RFC 27) and CURVE certificates.

In the style of pyzmq's ``zmq.auth``::

    auth = zloop.auth.ThreadAuthenticator(ctx)
    auth.start()
    auth.allow("127.0.0.1")
    auth.configure_plain(domain="*", passwords={"admin": "secret"})
    auth.configure_curve(domain="*", location=zloop.auth.CURVE_ALLOW_ANY)
    ...
    auth.stop()

The handler binds ``inproc://zeromq.zap.01`` in the given context; zloop servers of that context
(and only those) consult it exactly when libzmq would (see :mod:`zloop.security`).
"""

from zloop.auth.base import CURVE_ALLOW_ANY, Authenticator, CredentialsProvider
from zloop.auth.certs import create_certificates, load_certificate, load_certificates
from zloop.auth.thread import ThreadAuthenticator

__all__ = [
    "CURVE_ALLOW_ANY",
    "Authenticator",
    "CredentialsProvider",
    "ThreadAuthenticator",
    "create_certificates",
    "load_certificate",
    "load_certificates",
]
