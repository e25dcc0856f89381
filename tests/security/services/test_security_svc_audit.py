"""Security (store/bus rooms): the audit chain rewritten and re-hashed by the database owner is detected.

The attacker is the PostgreSQL superuser: it switches the triggers off, changes a row and recomputes
every hash after it so the chain is consistent again, moves the head, and switches the triggers back
on. Without a key (plain SHA-256) that rewrite verifies; with the chain keyed by a secret outside the
database `oms audit verify` names the row; and against the heads the recorder exported to a file and
to JetStream, even an attacker who also stole the key is caught.
"""

from __future__ import annotations

import asyncio
import json
import stat
from collections.abc import AsyncIterator
from pathlib import Path

import psycopg
import pytest

from oms.bus.bridge import connect_nats
from oms.bus.streams import ensure_streams
from oms.cli import main as oms_main
from oms.services.nats import NatsServer
from oms.services.redis import RedisServer
from oms.store.audit import GENESIS, AuditLog, load_key, new_key_file, row_hash, verify_rows
from oms.store.audithead import HeadExporter, read_file
from oms.store.recorder import Recorder
from oms.testing import eventually_async
from tests.integration.bus.conftest import bus_settings, store_settings


@pytest.fixture
async def own_nats(tmp_path: Path) -> AsyncIterator[NatsServer]:
    """A JetStream server of this test's own (the AUDIT/AUDIT_HEAD stream names are global)."""
    srv = NatsServer(tmp_path / "nats", sync_interval="2m")
    await asyncio.to_thread(srv.start)
    yield srv
    await asyncio.to_thread(srv.stop)


def _fill(dsn: str, key: bytes, n: int = 6) -> None:
    log = AuditLog(dsn, key=key)
    for i in range(n):
        log.append("gateway", "SubmitOrder", f"order:{i}", {"qty": i, "account": 1})
    log.close()


def rewrite_and_rehash(owner_dsn: str, row_id: int, key: bytes | None, *, from_id: int | None = None) -> None:
    """What a database owner can do: change row `row_id`, re-hash the chain from `from_id` (default the
    changed row) to the end, move the head."""
    with psycopg.connect(owner_dsn, autocommit=True) as c:
        c.execute("ALTER TABLE audit_log DISABLE TRIGGER USER")
        c.execute("ALTER TABLE audit_head DISABLE TRIGGER USER")
        c.execute("UPDATE audit_log SET detail = %s WHERE id = %s", ('{"account":1,"qty":999}', row_id))
        rows = AuditLog(conn=c, key=key).rows()
        start = from_id or row_id
        prev = GENESIS if start == 1 else rows[start - 2].hash
        for r in rows[start - 1 :]:
            h = row_hash(prev, r.id, r.ts_ns, r.actor, r.action, r.subject, r.detail, r.ext_id, key)
            c.execute("UPDATE audit_log SET prev_hash = %s, hash = %s WHERE id = %s", (prev, h, r.id))
            prev = h
        c.execute("UPDATE audit_head SET last_hash = %s", (prev,))
        c.execute("ALTER TABLE audit_head ENABLE TRIGGER USER")
        c.execute("ALTER TABLE audit_log ENABLE TRIGGER USER")


def test_rewrite_rehashed_without_the_key_is_detected(
    app_db: tuple[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    owner, app = app_db
    key_file = tmp_path / "audit.key"
    assert new_key_file(key_file) and stat.S_IMODE(key_file.stat().st_mode) == 0o600
    key = load_key(key_file)
    assert key is not None
    _fill(app, key)
    assert oms_main(["audit", "verify", "--dsn", owner, "--key-file", str(key_file)]) == 0
    capsys.readouterr()
    rewrite_and_rehash(owner, 3, key=None, from_id=1)  # no key: the whole chain re-hashed with SHA-256
    log = AuditLog(owner, key=None)
    assert verify_rows(log.rows(), log.head()).ok  # an unkeyed chain would have accepted the rewrite
    log.close()
    assert oms_main(["audit", "verify", "--dsn", owner, "--key-file", str(key_file)]) == 1
    out = capsys.readouterr().out
    assert "TAMPERED" in out and "row id=3: changed" in out, out


async def test_rewrite_with_a_stolen_key_is_caught_by_the_exported_heads(
    app_db: tuple[str, str], tmp_path: Path, own_nats: NatsServer, capsys: pytest.CaptureFixture[str]
) -> None:
    owner, app = app_db
    key = b"\x11" * 32
    key_file = tmp_path / "audit.key"
    key_file.write_text(key.hex())
    key_file.chmod(0o600)
    _fill(app, key)
    nc = await connect_nats(own_nats.admin_url, "t")
    heads = tmp_path / "audit" / "heads.jsonl"
    try:
        js = nc.jetstream()
        await ensure_streams(js, bus_settings(own_nats.admin_url, tmp_path))
        exp = HeadExporter(AuditLog(app, key=key), path=heads, js=js, interval_s=0.1)
        assert await exp.export_once() and not await exp.export_once()  # exported once per move
        exp.audit_log.close()
    finally:
        await nc.close()
    assert stat.S_IMODE(heads.stat().st_mode) == 0o600 and read_file(heads)[0][0] == 6
    rewrite_and_rehash(owner, 2, key=key)  # the attacker holds the key too: the chain verifies again
    argv = ["audit", "verify", "--dsn", owner, "--key-file", str(key_file)]
    assert await asyncio.to_thread(oms_main, argv) == 0
    capsys.readouterr()
    for extra in (["--heads", str(heads)], ["--nats-url", own_nats.admin_url]):
        assert await asyncio.to_thread(oms_main, [*argv, *extra, "--json"]) == 1, extra
        rep = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
        assert any("row id=6" in p and "rewritten after the export" in p for p in rep["problems"]), rep


async def test_the_recorder_exports_the_head_it_appends(
    app_db: tuple[str, str], tmp_path: Path, own_nats: NatsServer, redis_server: RedisServer
) -> None:
    from oms.bus.audit import AuditPublisher

    _, app = app_db
    bus = bus_settings(own_nats.admin_url, tmp_path)
    heads = tmp_path / "heads.jsonl"
    import msgspec

    store = msgspec.structs.replace(
        store_settings(app, redis_server.admin_url, "sec"),
        audit_head_file=str(heads),
        audit_head_interval_s=0.1,
    )
    rec = Recorder(bus, store, streams=["AUDIT"], use_cache=False)
    nc = await connect_nats(own_nats.admin_url, "t")
    try:
        await rec.start()
        pub = AuditPublisher(nc.jetstream(), "gateway")
        for i in range(3):
            await pub.send("token:abc", "SubmitOrder", f"order:{i}", {"qty": i})
        await eventually_async(lambda: heads.exists() and read_file(heads)[-1][0] == 3, 15)
        info = await nc.jetstream().stream_info("AUDIT_HEAD")
        assert info.state.messages >= 1
    finally:
        await nc.close()
        await rec.stop()
