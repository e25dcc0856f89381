"""Services room: free loopback ports.

Touches only sockets on 127.0.0.1 (bound and closed at once). A port found here can be taken by someone
else before the server binds it (8 people test on this machine), so every service that picked its port
itself retries with a fresh one when the bind fails.
"""

from __future__ import annotations

import socket

HOST = "127.0.0.1"


def free_port(host: str = HOST) -> int:
    """A TCP port on `host` that was free a moment ago (the kernel picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def port_free(port: int, host: str = HOST) -> bool:
    """True when nothing listens on (or holds) `port`, so a server could bind it now.

    SO_REUSEADDR as every server sets it: TIME_WAIT leftovers of closed connections do not count.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def free_port_pair(host: str = HOST, attempts: int = 200) -> int:
    """A port P such that P and P+1 are both free (OpenBao binds its cluster listener on P+1)."""
    for _ in range(attempts):
        p = free_port(host)
        if p < 65535 and port_free(p + 1, host):
            return p
    raise OSError(f"no two consecutive free ports found on {host} after {attempts} tries")


def listening(port: int, host: str = HOST, timeout: float = 0.2) -> bool:
    """True when a TCP connect to host:port succeeds."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False
