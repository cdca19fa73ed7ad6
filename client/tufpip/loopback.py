"""The verifying index's listening socket, bound before anything else of an install.

An install binds this socket (cheap: no HTTP machinery imported), starts the
installer against its URL, and only then imports tuf and refreshes the
metadata. Connections the installer opens meanwhile wait in the socket's
backlog: nothing is answered before the index serves verified targets, so
starting the installer early changes what it sees in no way, only when.

The port is the repository's recorded one (``state.stable_port``): pip and
uv key their caches by URL, so a stable index URL lets them reuse what they
cached. When another program holds it, any free port is used instead, and
the caller records that one for the next runs.
"""

from __future__ import annotations

import errno
import socket

HOST = "127.0.0.1"


def listen(port: int = 0, host: str = HOST, fall_back: bool = True) -> socket.socket:
    """A socket listening on ``host``:``port`` (an IP address), or on a free port if that
    one is taken and ``fall_back`` (``tufpip serve`` passes False: its URL must not move).

    ``SO_REUSEADDR`` lets a run reuse the port of the previous one while its
    closed connections linger (TIME_WAIT); it does not let two sockets
    listen on one port. The backlog is the system's maximum: until the index
    serves, every connection an installer opens in parallel must wait there
    rather than be dropped (a dropped SYN costs a one-second retransmit).
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            listener.bind((host, port))
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE or port == 0 or not fall_back:
                raise
            listener.bind((host, 0))
        listener.listen(socket.SOMAXCONN)
    except OSError:
        listener.close()
        raise
    return listener


def port_of(listener: socket.socket) -> int:
    return int(listener.getsockname()[1])


def index_url(listener: socket.socket) -> str:
    """The index URL an installer is given for ``listener``."""
    host, port = listener.getsockname()[:2]
    if listener.family == socket.AF_INET6:
        host = f"[{host}]"
    return f"http://{host}:{port}/simple/"
