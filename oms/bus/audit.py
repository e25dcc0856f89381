"""Bus room: audit records over NATS for processes without a database connection.

Touches its NATS connection only: `AuditPublisher.send(actor, action, subject, detail)` publishes an
`oms.store.audit.AuditRecord` (msgspec JSON) to JetStream subject `audit.<origin>` (stream AUDIT) with a
fresh `ext_id` as Nats-Msg-Id; the recorder appends it to the hash-chained audit log, de-duplicated by
that id, so a re-send never makes a second row. `decode_record` checks an incoming payload.
"""

from __future__ import annotations

import time
import uuid

import msgspec
from nats.js import JetStreamContext

from oms.bus import subjects
from oms.errors import Rejected, Transient
from oms.store.audit import AuditRecord

_dec = msgspec.json.Decoder(AuditRecord)


class AuditPublisher:
    def __init__(self, js: JetStreamContext, origin: str, *, timeout_s: float = 5.0) -> None:
        self.js = js
        self.subject = subjects.audit_subject(origin)
        self.origin = origin
        self.timeout_s = timeout_s

    async def send(
        self, actor: str, action: str, subject: str, detail: dict[str, object] | None = None
    ) -> str:
        """Publish one record; returns its ext_id. Raises Transient if JetStream did not store it."""
        rec = AuditRecord(
            actor=actor,
            action=action,
            subject=subject,
            detail=detail or {},
            ts_ns=time.time_ns(),
            ext_id=f"{self.origin}:{uuid.uuid4().hex}",
        )
        return await self.send_record(rec)

    async def send_record(self, rec: AuditRecord) -> str:
        if not rec.ext_id:
            rec = msgspec.structs.replace(rec, ext_id=f"{self.origin}:{uuid.uuid4().hex}")
        assert rec.ext_id is not None
        try:
            await self.js.publish(
                self.subject,
                msgspec.json.encode(rec),
                timeout=self.timeout_s,
                headers={"Nats-Msg-Id": rec.ext_id},
            )
        except Exception as e:
            raise Transient(
                f"audit record {rec.ext_id} not stored by JetStream: {type(e).__name__}: {e}"
            ) from e
        return rec.ext_id


def decode_record(data: bytes) -> AuditRecord:
    try:
        rec = _dec.decode(data)
    except msgspec.DecodeError as e:
        raise Rejected(f"audit record: {e}") from e
    if not rec.ext_id:
        raise Rejected("audit record from NATS has no ext_id (needed for de-duplication)")
    return rec
