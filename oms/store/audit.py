"""Store room: the audit log, append-only rows in a SHA-256 hash chain, and its verifier.

Touches the `audit_log` and `audit_head` tables (oms/store/migrations/0002_audit.sql). Other rooms call
`AuditLog(dsn).append(actor, action, subject, detail)` for every command, risk decision, limit change,
key access and admin action; a process without a database connection sends `AuditRecord`s over NATS
with `oms.bus.audit.AuditPublisher` and the recorder appends them (de-duplicated by `ext_id`).

Chain: row i stores prev_hash = hash of row i-1 (32 zero bytes for row 1) and
hash = HMAC-SHA256(key, prev_hash || canonical(id, ts_ns, actor, action, subject, detail, ext_id)), where
canonical is msgspec JSON of that list and detail is JSON with sorted keys. The key is held outside the
database (a 0600 file named by `OMS_AUDIT_KEY_FILE`, made by `oms up` under var/secrets/; in production
a Vault secret, see docs/secrets.md), so the database owner who rewrites rows cannot re-hash them into a
chain that verifies. Without a key the hash is plain SHA-256 (tests of the unkeyed format only).
`audit_head` holds the last id and hash and is advanced by a database trigger (migration 0003) that
refuses a row not extending the chain; appends serialise on an advisory lock. `verify()` names every
changed, removed or reordered row; `check_exported()` compares the chain with heads exported elsewhere
(oms/store/audithead.py), which catches a rewrite even by someone holding the key.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import time
from dataclasses import dataclass

import msgspec
import psycopg

from oms.errors import Rejected

GENESIS = b"\x00" * 32
KEY_ENV = "OMS_AUDIT_KEY_FILE"
_LOCK_KEY = 0x6F6D735F617564  # "oms_aud": pg_advisory_xact_lock serialising appends


def load_key(path: str | os.PathLike[str] | None = None) -> bytes | None:
    """The chain key from `path` or the file named by OMS_AUDIT_KEY_FILE (hex, 0600); None if neither."""
    where = str(path) if path else os.environ.get(KEY_ENV, "")
    if not where:
        return None
    from oms.credentials import check_private

    check_private(where, "audit chain key file")
    try:
        with open(where) as f:
            key = bytes.fromhex(f.read().strip())
    except ValueError:
        raise Rejected(f"audit key file {where} must hold the key as hex (64 hex digits)") from None
    if len(key) < 32:
        raise Rejected(f"audit key in {where} is {len(key)} bytes; at least 32 are needed")
    return key


def new_key_file(path: str | os.PathLike[str]) -> bool:
    """Create a random 32-byte key file (0600) unless it exists; True if made now."""
    import secrets

    from oms.credentials import write_private

    if os.path.exists(path):
        return False
    write_private(path, secrets.token_hex(32) + "\n")
    return True


class AuditRecord(msgspec.Struct, frozen=True, kw_only=True):
    """What is audited: who (actor), did what (action), to what (subject), with which details."""

    actor: str
    action: str
    subject: str
    detail: dict[str, object] = msgspec.field(default_factory=dict)
    ts_ns: int = 0
    ext_id: str | None = None


@dataclass(frozen=True, slots=True)
class AuditRow:
    id: int
    ts_ns: int
    actor: str
    action: str
    subject: str
    detail: str
    ext_id: str | None
    prev_hash: bytes
    hash: bytes


def canonical_detail(detail: dict[str, object]) -> str:
    try:
        return json.dumps(detail, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    except (TypeError, ValueError) as e:
        raise Rejected(f"audit detail must be JSON-serialisable: {e}") from e


def row_hash(
    prev_hash: bytes,
    id_: int,
    ts_ns: int,
    actor: str,
    action: str,
    subject: str,
    detail: str,
    ext_id: str | None,
    key: bytes | None = None,
) -> bytes:
    body = msgspec.json.encode([id_, ts_ns, actor, action, subject, detail, ext_id])
    if key is not None:
        return hmac.new(key, prev_hash + body, hashlib.sha256).digest()
    return hashlib.sha256(prev_hash + body).digest()


def _check_text(name: str, value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise Rejected(f"audit {name} must be a non-empty string, got {value!r}")
    if len(value) > 512:
        raise Rejected(f"audit {name} is {len(value)} characters; at most 512")
    return value


class AuditLog:
    """Append rows and verify the chain. One connection, opened lazily."""

    def __init__(
        self,
        dsn: str | None = None,
        *,
        conn: psycopg.Connection | None = None,
        key: bytes | None = None,
    ) -> None:
        """`key` keys the chain; by default the file named by OMS_AUDIT_KEY_FILE (unkeyed without one)."""
        if dsn is None and conn is None:
            raise Rejected("AuditLog needs a PostgreSQL DSN or a connection")
        self.dsn = dsn
        self._conn = conn
        self.key = key if key is not None else load_key()

    @property
    def conn(self) -> psycopg.Connection:
        if self._conn is None or self._conn.closed:
            assert self.dsn is not None
            self._conn = psycopg.connect(self.dsn, connect_timeout=5)
        return self._conn

    def close(self) -> None:
        if self._conn is not None and self.dsn is not None:
            self._conn.close()
        self._conn = None

    def append(
        self,
        actor: str,
        action: str,
        subject: str,
        detail: dict[str, object] | None = None,
        *,
        ts_ns: int | None = None,
        ext_id: str | None = None,
    ) -> AuditRow | None:
        """Append one row; returns it (None if `ext_id` was already recorded: a redelivered record)."""
        return self.append_many(
            [
                AuditRecord(
                    actor=actor,
                    action=action,
                    subject=subject,
                    detail=detail or {},
                    ts_ns=ts_ns or 0,
                    ext_id=ext_id,
                )
            ]
        )[0]

    def append_many(self, recs: list[AuditRecord]) -> list[AuditRow | None]:
        """Append rows in one transaction (the chain stays linear under concurrent writers)."""
        out: list[AuditRow | None] = []
        conn = self.conn
        try:
            with conn.transaction(), conn.cursor() as cur:
                # writers may not UPDATE audit_head (the insert trigger advances it), so they
                # serialise on an advisory lock instead of SELECT ... FOR UPDATE
                cur.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
                last_id, last_hash = cur.execute(
                    "SELECT last_id, last_hash FROM audit_head WHERE one"
                ).fetchone()  # type: ignore[misc]
                last_hash = bytes(last_hash)
                for r in recs:
                    actor = _check_text("actor", r.actor)
                    action = _check_text("action", r.action)
                    subject = _check_text("subject", r.subject)
                    detail = canonical_detail(dict(r.detail))
                    if r.ext_id is not None:
                        seen = cur.execute(
                            "SELECT 1 FROM audit_log WHERE ext_id = %s", (r.ext_id,)
                        ).fetchone()
                        if seen:
                            out.append(None)
                            continue
                    rid = int(last_id) + 1
                    ts = r.ts_ns or time.time_ns()
                    h = row_hash(last_hash, rid, ts, actor, action, subject, detail, r.ext_id, self.key)
                    cur.execute(
                        "INSERT INTO audit_log (id, ts_ns, actor, action, subject, detail, ext_id, "
                        "prev_hash, hash) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
                        (rid, ts, actor, action, subject, detail, r.ext_id, last_hash, h),
                    )
                    out.append(AuditRow(rid, ts, actor, action, subject, detail, r.ext_id, last_hash, h))
                    last_id, last_hash = rid, h
        except psycopg.errors.UndefinedTable as e:
            raise Rejected("audit tables are missing: run `oms db migrate` first") from e
        return out

    def rows(self) -> list[AuditRow]:
        with self.conn.cursor() as cur:
            got = cur.execute(
                "SELECT id, ts_ns, actor, action, subject, detail, ext_id, prev_hash, hash FROM audit_log "
                "ORDER BY id"
            ).fetchall()
        self.conn.commit()
        return [AuditRow(r[0], r[1], r[2], r[3], r[4], r[5], r[6], bytes(r[7]), bytes(r[8])) for r in got]

    def head(self) -> tuple[int, bytes]:
        row = self.conn.execute("SELECT last_id, last_hash FROM audit_head WHERE one").fetchone()
        self.conn.commit()
        if row is None:
            return 0, GENESIS
        return int(row[0]), bytes(row[1])

    def verify(self) -> VerifyReport:
        return verify_rows(self.rows(), self.head(), self.key)


@dataclass(slots=True)
class VerifyReport:
    rows: int
    head_id: int
    head_hash: bytes
    problems: list[str]

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_rows(rows: list[AuditRow], head: tuple[int, bytes], key: bytes | None = None) -> VerifyReport:
    """Walk the chain in id order; name every changed, removed or reordered row. With `key`, a row
    re-hashed by someone without the key shows as changed."""
    problems: list[str] = []
    by_hash = {r.hash: r.id for r in rows}
    prev_hash, prev_id = GENESIS, 0
    for r in rows:
        recomputed = row_hash(
            r.prev_hash, r.id, r.ts_ns, r.actor, r.action, r.subject, r.detail, r.ext_id, key
        )
        if recomputed != r.hash:
            orig = _original_id(r, by_hash, key)
            if orig is not None:
                problems.append(f"row id={r.id}: reordered (it was written as row id={orig})")
            else:
                problems.append(
                    f"row id={r.id}: changed (its content no longer matches its hash; "
                    f"actor={r.actor!r} action={r.action!r} subject={r.subject!r})"
                )
        if r.id != prev_id + 1:
            problems.append(
                f"row id={r.id}: rows {prev_id + 1}..{r.id - 1} removed (ids jump from {prev_id})"
            )
        elif r.prev_hash != prev_hash:
            owner = by_hash.get(r.prev_hash)
            if owner is not None and owner != prev_id:
                problems.append(
                    f"row id={r.id}: reordered (it chains to row id={owner}, but follows row id={prev_id})"
                )
            elif recomputed == r.hash:
                problems.append(
                    f"row id={r.id}: chain broken after row id={prev_id} (prev_hash matches no row: "
                    "the row before it was changed, removed or replaced)"
                )
        prev_hash, prev_id = r.hash, r.id
    head_id, head_hash = head
    if head_id != prev_id:
        if head_id > prev_id:
            problems.append(f"rows {prev_id + 1}..{head_id} removed from the end (audit_head says {head_id})")
        else:
            problems.append(
                f"row id={head_id + 1}..{prev_id}: appended outside AuditLog (audit_head says {head_id})"
            )
    elif head_hash != prev_hash:
        problems.append(f"row id={prev_id}: last row's hash does not match audit_head (changed or replaced)")
    return VerifyReport(len(rows), head_id, head_hash, problems)


def _original_id(r: AuditRow, by_hash: dict[bytes, int], key: bytes | None) -> int | None:
    """The id a moved row was written with, if its content is intact under another id."""
    owner = by_hash.get(r.prev_hash)
    cands = {1} if r.prev_hash == GENESIS else set()
    if owner is not None:
        cands.update((owner + 1, owner - 1))
    cands.update(range(max(1, r.id - 3), r.id + 4))
    cands.discard(r.id)
    for c in sorted(cands):
        if row_hash(r.prev_hash, c, r.ts_ns, r.actor, r.action, r.subject, r.detail, r.ext_id, key) == r.hash:
            return c
    return None
