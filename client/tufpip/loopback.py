"""The verifying index's listening socket, bound before anything else of an install.

An install binds this socket (cheap: no HTTP machinery imported), starts the
installer against its URL, and only then imports tuf and refreshes the
metadata. Connections the installer opens meanwhile wait in the socket's
backlog: nothing is answered before the index serves verified targets, so
starting the installer early changes what it sees in no way, only when.
"""

from __future__ import annotations

import socket

HOST = "127.0.0.1"


def listen() -> socket.socket:
    """A socket listening on an ephemeral port of 127.0.0.1.

    The backlog is the system's maximum: until the index serves, every
    connection an installer opens in parallel must wait there rather than
    be dropped (a dropped SYN costs a one-second retransmit).
    """
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        listener.bind((HOST, 0))
        listener.listen(socket.SOMAXCONN)
    except OSError:
        listener.close()
        raise
    return listener


def index_url(listener: socket.socket) -> str:
    """The index URL an installer is given for ``listener``."""
    host, port = listener.getsockname()[:2]
    return f"http://{host}:{port}/simple/"
