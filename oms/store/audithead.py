"""Store room: the audit chain's head exported to places the database owner cannot rewrite.

Touches the audit tables (read), one JSON-lines file (append, 0600, fsync'ed) and the JetStream subject
`audithead.<origin>` (stream AUDIT_HEAD, oms/bus/streams.py). `HeadExporter` (run by the recorder)
writes `{"id", "hash", "ts_ns"}` each time the head moved, every `interval_s`. `check_exported()` then
compares the chain in PostgreSQL with every exported head: a row whose hash differs from what was
exported for its id was rewritten after the export, even by someone holding the chain key; an exported
id beyond the chain means rows were removed. `oms audit verify --heads FILE` runs it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
from pathlib import Path
from typing import Any

from oms import log
from oms.errors import Rejected
from oms.store.audit import AuditLog, AuditRow

_log = log.get(__name__)
SUBJECT_PREFIX = "audithead"


def append_line(path: Path, line: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, (json.dumps(line, sort_keys=True) + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)


def read_file(path: str | os.PathLike[str]) -> list[tuple[int, bytes]]:
    """Every (id, hash) exported to `path`."""
    out = []
    try:
        text = Path(path).read_text()
    except FileNotFoundError:
        raise Rejected(f"audit head file {path} does not exist; give the recorder's export file") from None
    for n, raw in enumerate(text.splitlines(), 1):
        if not raw.strip():
            continue
        try:
            d = json.loads(raw)
            out.append((int(d["id"]), bytes.fromhex(d["hash"])))
        except (ValueError, KeyError, TypeError) as e:
            raise Rejected(f"{path} line {n}: not an exported head ({e})") from None
    return out


def check_exported(rows: list[AuditRow], heads: list[tuple[int, bytes]]) -> list[str]:
    """Problems where the chain disagrees with what was exported (empty = agrees)."""
    by_id = {r.id: r.hash for r in rows}
    problems = []
    for hid, hhash in heads:
        if hid == 0:
            continue
        have = by_id.get(hid)
        if have is None:
            problems.append(f"exported head id={hid} is not in the chain any more (rows removed)")
        elif have != hhash:
            problems.append(
                f"row id={hid}: hash {have.hex()[:16]}... differs from the head exported for it "
                f"({hhash.hex()[:16]}...): the chain was rewritten after the export"
            )
    return problems


class HeadExporter:
    """Exports the head every `interval_s` when it moved: to `path` and/or JetStream (`js`)."""

    def __init__(
        self,
        audit_log: AuditLog,
        *,
        path: str | os.PathLike[str] | None = None,
        js: Any = None,
        origin: str = "recorder",
        interval_s: float = 10.0,
    ) -> None:
        self.audit_log = audit_log
        self.path = Path(path) if path else None
        self.js = js
        self.subject = f"{SUBJECT_PREFIX}.{origin}"
        self.interval_s = interval_s
        self.last: tuple[int, bytes] | None = None
        self.exported = 0

    async def export_once(self) -> bool:
        """Export the head if it moved since the last export; True if exported."""
        head = await asyncio.to_thread(self.audit_log.head)
        if head == self.last or head[0] == 0:
            return False
        line = {"id": head[0], "hash": head[1].hex(), "ts_ns": time.time_ns()}
        if self.path is not None:
            await asyncio.to_thread(append_line, self.path, line)
        if self.js is not None:
            await self.js.publish(self.subject, json.dumps(line).encode(), timeout=5.0)
        self.last = head
        self.exported += 1
        return True

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.export_once()
            except Exception as e:  # the database or NATS is down: try again next round
                _log.warning("audit head export failed (%s: %s); retrying", type(e).__name__, e)
                self.audit_log.close()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.interval_s)


async def read_stream(js: Any, stream: str = "AUDIT_HEAD") -> list[tuple[int, bytes]]:
    """Every head exported to JetStream (oldest first)."""
    from nats.js.errors import NotFoundError

    try:
        info = await js.stream_info(stream)
    except NotFoundError:
        raise Rejected(f"no JetStream stream {stream}: the recorder has not exported a head yet") from None
    out = []
    for seq in range(info.state.first_seq, info.state.last_seq + 1):
        try:
            msg = await js.get_msg(stream, seq)
        except NotFoundError:
            continue
        d = json.loads(msg.data)
        out.append((int(d["id"]), bytes.fromhex(d["hash"])))
    return out
