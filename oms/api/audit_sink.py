"""Gateway room (oms/api): where every auth/RBAC/rate-limit decision is written down.

Touches the audit file it is given and, when configured, the store room's audit tables. `AuditSink` is
the small interface the gateway writes through; `JsonlAuditSink` appends one JSON object per line
(buffered, flushed at most every `flush_s` seconds and on close); with `[gateway].audit_dsn` set,
`open_sink()` also writes every record through the store room's hash-chained
`oms.store.audit.AuditLog` (`StoreAuditSink`). Call sites do not change. Never records a secret: the
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
        self._stop = threading.Event()
        self._timer = threading.Thread(target=self._tick, name="audit-flush", daemon=True)
        self._timer.start()

    def _tick(self) -> None:  # quiet periods still reach the file within flush_s
        while not self._stop.wait(self._flush_s):
            if self._buf:
                self.flush()

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
        self._stop.set()
        self._timer.join(5)
        self.flush()
        with self._lock:
            if not self._f.closed:
                self._f.close()


class StoreAuditSink:
    """Writes through the store room's hash-chained `oms.store.audit.AuditLog` (PostgreSQL).

    `record()` only queues (the gRPC loop never waits on the database); a background thread appends the
    queue in one transaction every `flush_s` (one chain link per record). actor = token id (or "-"),
    action = "gateway.allow" / "gateway.deny", subject = the gRPC method, detail = the rest. If the
    database is unreachable the batch is kept and retried (bounded at `max_pending`; beyond it the
    oldest are dropped and counted in `dropped`, while the JSON-lines file keeps everything).
    """

    def __init__(self, dsn: str, *, flush_s: float = 0.2, max_pending: int = 200_000) -> None:
        from oms.store.audit import AuditLog

        self._log = AuditLog(dsn)
        self._q: list[AuditRecord] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._flush_s = flush_s
        self._max = max_pending
        self.dropped = 0
        self.written = 0
        self.last_error = ""
        self._thread = threading.Thread(target=self._run, name="audit-store", daemon=True)
        self._thread.start()

    def record(self, rec: AuditRecord) -> None:
        if not rec.ts_ns:
            rec.ts_ns = time.time_ns()
        with self._lock:
            self._q.append(rec)
            if len(self._q) > self._max:
                del self._q[: len(self._q) - self._max]
                self.dropped += 1

    def _write(self) -> None:
        from oms.store.audit import AuditRecord as StoreRecord

        with self._lock:
            batch, self._q = self._q, []
        if not batch:
            return
        rows = [
            StoreRecord(
                actor=r.token_id or "-",
                action=f"gateway.{r.decision}",
                subject=r.method,
                detail={"code": r.code, "peer": r.peer, "reason": r.reason, "account": r.account, **r.detail},
                ts_ns=r.ts_ns,
            )
            for r in batch
        ]
        try:
            self._log.append_many(rows)
            self.written += len(rows)
            self.last_error = ""
        except Exception as e:  # database down: keep the batch for the next attempt
            self.last_error = f"{type(e).__name__}: {e}"
            _log.warning(
                "audit store write failed (%s); %d records kept for retry", self.last_error, len(batch)
            )
            with self._lock:
                self._q[:0] = batch
            self._log.close()

    def _run(self) -> None:
        while not self._stop.wait(self._flush_s):
            self._write()
        self._write()

    def flush(self) -> None:
        self._write()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(10)
        self._log.close()


class TeeSink:
    """Every record to each sink (the local file always, the shared store when configured)."""

    def __init__(self, *sinks: AuditSink) -> None:
        self.sinks = sinks

    def record(self, rec: AuditRecord) -> None:
        for s in self.sinks:
            s.record(rec)

    def flush(self) -> None:
        for s in self.sinks:
            s.flush()

    def close(self) -> None:
        for s in self.sinks:
            s.close()


def open_sink(path: str | os.PathLike[str], dsn: str = "") -> AuditSink:
    """The JSON-lines file at `path`; with `dsn`, also the store room's hash-chained AuditLog."""
    local = JsonlAuditSink(path)
    return TeeSink(local, StoreAuditSink(dsn)) if dsn else local


def read_records(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Every record in a JSON-lines audit file (for tests and `oms tokens audit`)."""
    p = Path(path)
    if not p.exists():
        return []
    return [json.loads(line) for line in p.read_text().splitlines() if line.strip()]
