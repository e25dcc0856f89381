"""Secrets room: where every key step is written down (add, import, rotate, grace, revoke, alert, reload).

Touches only the audit file it is given (JSON lines, 0600, one fsync'ed line per event) and, when asked,
the store room's audit table through its AuditLog. `AuditSink` is
the tiny interface the rotation code writes through: `JsonlAuditSink` always, and `StoreAuditSink` writes
to the store room's hash-chained `oms.store.audit.AuditLog` too when `[secrets] audit_store = true`.
Fields are names, versions, fingerprints and times — never a secret, never an API key in clear.
"""

from __future__ import annotations

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


class StoreAuditSink:
    """Writes each event to the store room's hash-chained `AuditLog` (PostgreSQL) and mirrors it to the
    JSON-lines file, so an unreachable database never loses an audit event (the error is logged)."""

    def __init__(self, audit_log: Any, mirror: JsonlAuditSink) -> None:
        self.audit_log = audit_log
        self.mirror = mirror
        self._actor = actor()
        self.failures = 0

    def record(self, action: str, subject: str, **fields: Any) -> None:
        self.mirror.record(action, subject, **fields)
        detail = json.loads(log.scrub(json.dumps({"room": "secrets", **fields}, default=str)))
        try:
            self.audit_log.append(self._actor, action, subject, detail)
        except Exception as e:  # the JSON-lines mirror holds the event; say so once per failure
            self.failures += 1
            _log.error(
                "audit to PostgreSQL failed (%s); event kept in %s", type(e).__name__, self.mirror.path
            )


def open_audit(path: str | os.PathLike[str], store_audit: Any = None) -> AuditSink:
    """The audit sink to use: the store room's AuditLog (mirrored to `path`) when given, else JSON lines."""
    sink = JsonlAuditSink(path)
    if store_audit is not None:
        return StoreAuditSink(store_audit, sink)
    return sink


def open_configured_audit(path: str, to_store: bool, config: str | None = None) -> AuditSink:
    """`[secrets] audit_store = true` adds the store room's AuditLog ([store] postgres_dsn / OMS_PG_DSN)."""
    if not to_store:
        return open_audit(path)
    from oms.store.audit import AuditLog
    from oms.store.settings import resolve

    return open_audit(path, AuditLog(resolve(config=config).postgres_dsn))
