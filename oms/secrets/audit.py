"""Secrets room: where every key step is written down (add, import, rotate, grace, revoke, alert, reload).

Touches only the audit file it is given (JSON lines, 0600, one fsync'ed line per event). `AuditSink` is
the tiny interface the rotation code writes through; `open_audit()` adopts the store room's
`oms.store.audit.AuditLog` when it exists (call sites do not change) and falls back to `JsonlAuditSink`.
Fields are names, versions, fingerprints and times — never a secret, never an API key in clear.
"""

from __future__ import annotations

import contextlib
import getpass
import json
import os
import socket
import threading
import time
from pathlib import Path
from typing import Any, Protocol

from oms import log

_log = log.get(__name__)


def actor() -> str:
    """Who did it: user@host:pid (for the audit trail)."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = str(os.getuid())
    return f"{user}@{socket.gethostname()}:{os.getpid()}"


class AuditSink(Protocol):
    def record(self, action: str, subject: str, **fields: Any) -> None:
        """Append one event: `action` like "key.rotated", `subject` the key name."""
        ...


class JsonlAuditSink:
    """Append-only JSON lines: {"ts", "actor", "room": "secrets", "action", "subject", ...fields}."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._actor = actor()

    def record(self, action: str, subject: str, **fields: Any) -> None:
        line = {
            "ts": time.time(),
            "actor": self._actor,
            "room": "secrets",
            "action": action,
            "subject": subject,
            **fields,
        }
        data = (json.dumps(line, default=str, sort_keys=True) + "\n").encode()
        data = log.scrub(data.decode()).encode()  # belt and braces: a registered secret never lands here
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, data)
                os.fsync(fd)
            finally:
                os.close(fd)

    def read(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        return [json.loads(x) for x in self.path.read_text().splitlines() if x.strip()]


class _StoreAuditAdapter:
    """Writes through the store room's AuditLog (if its interface offers a `record`/`write`/`append`)."""

    def __init__(self, target: Any, fallback: JsonlAuditSink) -> None:
        self._target = target
        self._fallback = fallback

    def record(self, action: str, subject: str, **fields: Any) -> None:
        self._fallback.record(action, subject, **fields)
        fn = getattr(self._target, "record", None)
        if fn is None:
            return
        # a different signature is tolerated: the JSON-lines file above already holds the event
        with contextlib.suppress(TypeError):
            fn(room="secrets", action=action, subject=subject, actor=actor(), fields=fields)


def open_audit(path: str | os.PathLike[str], store_audit: Any = None) -> AuditSink:
    """The audit sink to use: the given store AuditLog instance (mirrored to `path`), else JSON lines."""
    sink = JsonlAuditSink(path)
    if store_audit is not None:
        return _StoreAuditAdapter(store_audit, sink)
    return sink
