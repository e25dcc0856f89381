"""Audit chain against a real PostgreSQL: append, verify, and tampering (update, delete, swap) detected."""

from __future__ import annotations

import msgspec
import psycopg
import pytest

from oms.bus.audit import AuditPublisher
from oms.bus.bridge import connect_nats
from oms.bus.streams import ensure_streams
from oms.cli import main as oms_main
from oms.services.nats import NatsServer
from oms.services.redis import RedisServer
from oms.store.audit import AuditLog, AuditRecord
from oms.store.recorder import Recorder
from oms.testing import eventually_async
from tests.integration.bus.conftest import bus_settings, store_settings


def _fill(dsn: str, n: int = 6) -> AuditLog:
    log = AuditLog(dsn)
    for i in range(n):
        log.append("alice", "SubmitOrder", f"order:{i}", {"qty": i, "px": "100.5"})
    return log


def _tamper(dsn: str, *sql: str) -> None:
    """An attacker with superuser rights: switch the append-only triggers off, edit, switch them on."""
    with psycopg.connect(dsn, autocommit=True) as c:
        c.execute("ALTER TABLE audit_log DISABLE TRIGGER USER")
        for s in sql:
            c.execute(s)
        c.execute("ALTER TABLE audit_log ENABLE TRIGGER USER")


def test_intact_chain_verifies(pg_dsn: str, capsys: pytest.CaptureFixture[str]) -> None:
    log = _fill(pg_dsn)
    rep = log.verify()
    assert rep.ok and rep.rows == 6 and rep.head_id == 6
    assert oms_main(["audit", "verify", "--dsn", pg_dsn]) == 0
    assert "intact: 6 rows" in capsys.readouterr().out


def test_append_only_triggers_refuse_update_and_delete(pg_dsn: str) -> None:
    _fill(pg_dsn, 2)
    with psycopg.connect(pg_dsn, autocommit=True) as c:
        with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
            c.execute("UPDATE audit_log SET actor = 'mallory' WHERE id = 1")
        with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
            c.execute("DELETE FROM audit_log WHERE id = 2")


def test_changed_row_is_named(pg_dsn: str, capsys: pytest.CaptureFixture[str]) -> None:
    log = _fill(pg_dsn)
    _tamper(pg_dsn, 'UPDATE audit_log SET detail = \'{"px":"1.0","qty":3}\' WHERE id = 4')
    rep = log.verify()
    assert not rep.ok
    assert any(p.startswith("row id=4: changed") for p in rep.problems), rep.problems
    assert oms_main(["audit", "verify", "--dsn", pg_dsn]) == 1
    assert "row id=4: changed" in capsys.readouterr().out


def test_removed_row_is_named(pg_dsn: str) -> None:
    log = _fill(pg_dsn)
    _tamper(pg_dsn, "DELETE FROM audit_log WHERE id = 3")
    rep = log.verify()
    assert any("rows 3..3 removed" in p for p in rep.problems), rep.problems


def test_removed_tail_is_named(pg_dsn: str) -> None:
    log = _fill(pg_dsn)
    _tamper(pg_dsn, "DELETE FROM audit_log WHERE id >= 5")
    rep = log.verify()
    assert any("rows 5..6 removed from the end" in p for p in rep.problems), rep.problems


def test_swapped_rows_are_named(pg_dsn: str) -> None:
    log = _fill(pg_dsn)
    _tamper(
        pg_dsn,
        "UPDATE audit_log SET id = -1 WHERE id = 2",
        "UPDATE audit_log SET id = 2 WHERE id = 3",
        "UPDATE audit_log SET id = 3 WHERE id = -1",
    )
    rep = log.verify()
    assert "row id=2: reordered (it was written as row id=3)" in rep.problems, rep.problems
    assert "row id=3: reordered (it was written as row id=2)" in rep.problems, rep.problems


def test_swapped_contents_are_detected(pg_dsn: str) -> None:
    """Swap everything but the id between two rows (the rows 'move' while ids stay in order)."""
    log = _fill(pg_dsn)
    cols = "ts_ns, actor, action, subject, detail, ext_id, prev_hash, hash"
    _tamper(
        pg_dsn,
        f"CREATE TEMP TABLE sw AS SELECT id, {cols} FROM audit_log WHERE id IN (4, 5)",
        "UPDATE audit_log a SET ts_ns = s.ts_ns, actor = s.actor, action = s.action, subject = s.subject, "
        "detail = s.detail, ext_id = s.ext_id, prev_hash = s.prev_hash, hash = s.hash "
        "FROM sw s WHERE a.id IN (4, 5) AND s.id = 9 - a.id",
    )
    rep = log.verify()
    assert "row id=4: reordered (it was written as row id=5)" in rep.problems, rep.problems
    assert "row id=5: reordered (it was written as row id=4)" in rep.problems, rep.problems


def test_rejects_bad_input(pg_dsn: str) -> None:
    from oms.errors import Rejected

    log = AuditLog(pg_dsn)
    with pytest.raises(Rejected, match="actor must be a non-empty string"):
        log.append("", "SubmitOrder", "order:1")
    with pytest.raises(Rejected, match="JSON-serialisable"):
        log.append("a", "b", "c", {"x": _Unjson()})


class _Unjson:
    def __str__(self) -> str:
        raise TypeError("not serialisable")


async def test_audit_over_nats_lands_once(
    nats_js: NatsServer, pg_dsn: str, redis_server: RedisServer, prefix: str, tmp_path
) -> None:
    bus = bus_settings(nats_js.admin_url, tmp_path)
    rec = Recorder(bus, store_settings(pg_dsn, redis_server.admin_url, prefix), streams=["AUDIT"])
    nc = await connect_nats(bus.nats_url, "test-audit")
    js = nc.jetstream()
    await ensure_streams(js, bus)
    pub = AuditPublisher(js, "gateway")
    ids = [await pub.send("bob", "CancelOrder", f"order:{i}", {"why": "test"}) for i in range(5)]
    # a re-send of the same record with another Nats-Msg-Id (past JetStream's window): still one row
    again = AuditRecord(actor="bob", action="CancelOrder", subject="order:0", ext_id=ids[0])
    await js.publish(pub.subject, msgspec.json.encode(again), headers={"Nats-Msg-Id": "other"})
    await rec.start()
    try:
        log = AuditLog(pg_dsn)
        await eventually_async(lambda: log.verify().rows == 5 and rec.stats.messages == 6, 15)
        rep = log.verify()
        assert rep.ok and rep.rows == 5
        assert [r.ext_id for r in log.rows()] == ids
    finally:
        await rec.stop()
        await nc.close()
