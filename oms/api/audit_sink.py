"""Gateway room (oms/api): where every auth/RBAC/rate-limit decision is written down.

Touches only the audit file it is given. `AuditSink` is the small interface the gateway writes through;
`JsonlAuditSink` appends one JSON object per line (buffered, flushed at most every `flush_s` seconds and
on close). The store room's `oms.store.audit.AuditLog` is adopted through `open_sink()` once it exists
(call sites do not change). Never records a secret: the
token id is recorded, never the token itself nor a TOTP code.
"""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from oms import log

_log = log.get(__name__)


@dataclass(slots=True)
class AuditRecord:
    """One decision: who (token id, peer), what (method, account), the outcome and why."""

    method: str
    decision: str  # "allow" | "deny"
    code: str  # grpc status name, "OK" when allowed
    token_id: str = ""
    peer: str = ""
    reason: str = ""
    account: int | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    ts_ns: int = 0


class AuditSink(Protocol):
    def record(self, rec: AuditRecord) -> None: ...

    def flush(self) -> None: ...

    def close(self) -> None: ...


class JsonlAuditSink:
    """Append-only JSON-lines file (mode 0600), buffered in memory between flushes."""

    def __init__(self, path: str | os.PathLike[str], *, flush_s: float = 0.2, max_buffer: int = 4096) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        self._f = os.fdopen(fd, "a", encoding="utf-8")
        self._buf: list[str] = []
        self._lock = threading.Lock()
        self._flush_s = flush_s
        self._max = max_buffer
        self._last = time.monotonic()
        self.count = 0

    def record(self, rec: AuditRecord) -> None:
        if not rec.ts_ns:
            rec.ts_ns = time.time_ns()
        line = json.dumps(
            {
                "ts_ns": rec.ts_ns,
                "method": rec.method,
                "decision": rec.decision,
                "code": rec.code,
                "token_id": rec.token_id,
                "peer": rec.peer,
                "reason": rec.reason,
                "account": rec.account,
                "detail": rec.detail,
            },
            separators=(",", ":"),
            default=str,
        )
        with self._lock:
            self._buf.append(line)
            self.count += 1
            due = len(self._buf) >= self._max or time.monotonic() - self._last >= self._flush_s
        if due:
            self.flush()

    def flush(self) -> None:
        with self._lock:
            lines, self._buf = self._buf, []
            self._last = time.monotonic()
            if lines and not self._f.closed:
                self._f.write("\n".join(lines) + "\n")
                self._f.flush()

    def close(self) -> None:
        self.flush()
        with self._lock:
            if not self._f.closed:
                self._f.close()


def open_sink(path: str | os.PathLike[str]) -> AuditSink:
    """The JSON-lines sink at `path`."""
    return JsonlAuditSink(path)


def read_records(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Every record in a JSON-lines audit file (for tests and `oms tokens audit`)."""
    p = Path(path)
    if not p.exists():
        return []
    return [json.loads(line) for line in p.read_text().splitlines() if line.strip()]
