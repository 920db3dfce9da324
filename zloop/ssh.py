"""``zloop.ssh``: not provided -- importing it raises ImportError (pyzmq's ``zmq.ssh`` tunnels).

pyzmq's ``zmq.ssh.tunnel`` forwards a local port to a ZeroMQ endpoint through an SSH server
(``tunnel_connection``, ``open_tunnel``, ``openssh_tunnel``, ``paramiko_tunnel``) by driving the
``ssh`` command through ``pexpect`` or by running ``paramiko``. It is out of zloop's scope: it is
not ZeroMQ (nothing in it touches the protocol or the sockets), it needs third-party SSH packages
zloop cannot depend on, and it cannot be tested here without an SSH server. Such a tunnel works with
zloop sockets as it is: open it with ``ssh -L`` (or paramiko, sshtunnel ...) and connect the zloop
socket to the local end.
"""

from __future__ import annotations

raise ImportError(
    "zloop.ssh is not provided: zloop has no counterpart of pyzmq's zmq.ssh SSH tunnels (they "
    "need pexpect or paramiko, and are not ZeroMQ). Open the tunnel yourself (ssh -L "
    "LOCAL_PORT:HOST:PORT server, or paramiko/sshtunnel) and connect to the local end."
)
