"""Security (CLI/services rooms): what `oms up` hands each program is its own credential, never on argv.

Runs oms/cli/_stackcreds.py against the real session servers: each program gets a 0600 credential file
and a pgpass file, its environment names files only, its PostgreSQL role is not the owner, and its NATS
user can do its own job but not another program's. The gateway and the connectors audit into
PostgreSQL by default (their environment carries the audit DSN / audit_store switch).
"""

from __future__ import annotations

import asyncio
import json
import stat
from pathlib import Path

import nats
import psycopg
import pytest

from oms.cli import _stackcreds
from oms.cli.stack import PROGRAM_ARGS, Program
from oms.credentials import load, nats_options
from oms.services.nats import NatsServer
from oms.services.postgres import PostgresServer
from oms.services.redis import RedisServer
from oms.store.audit import AuditLog

NAMES = ("gateway", "recorder", "engine")


@pytest.fixture
def plan(
    nats_server: NatsServer, redis_server: RedisServer, postgres_server: PostgresServer, tmp_path: Path
) -> dict:
    progs = [Program(n, ["python", "-m", f"oms.procs.{n}"], 60, "app") for n in NAMES]
    redis_server._load_users(NAMES)  # as `oms up` renders it: one Redis user per program
    return {
        "programs": progs,
        "services": {"nats": nats_server, "redis": redis_server, "postgres": postgres_server},
    }


def test_each_program_gets_its_own_private_credentials(plan: dict, tmp_path: Path) -> None:
    var = tmp_path / "var"
    roles = _stackcreds.prepare(var, plan)
    _stackcreds.setup_database(plan, roles)
    secrets_seen: set[str] = set()
    for p in plan["programs"]:
        env = p.env
        cred = Path(env["OMS_CREDENTIALS"])
        assert (
            stat.S_IMODE(cred.stat().st_mode) == 0o600 and stat.S_IMODE(cred.parent.stat().st_mode) == 0o700
        )
        doc = json.loads(cred.read_text())
        assert doc["nats"]["user"] == p.name and doc["redis"]["user"] == p.name
        for section in doc.values():
            secrets_seen.add(section["password"])
        # no password anywhere in the environment or on the command line
        text = json.dumps(env) + " ".join(p.command) + " ".join(a for v in PROGRAM_ARGS.values() for a in v)
        assert not any(s in text for s in secrets_seen)
        assert f"user=oms_{p.name}" in env["OMS_PG_DSN"] and "passfile=" in env["OMS_PG_DSN"]
        assert stat.S_IMODE(Path(env["OMS_AUDIT_KEY_FILE"]).stat().st_mode) == 0o600
        assert env["OMS_SECRETS__AUDIT_STORE"] == "true"  # key rotations audited into PostgreSQL
    gw = next(p for p in plan["programs"] if p.name == "gateway")
    assert gw.env["OMS_GATEWAY__AUDIT_DSN"] == gw.env["OMS_PG_DSN"]  # decisions audited into PostgreSQL
    rec = next(p for p in plan["programs"] if p.name == "recorder")
    assert rec.env["OMS_AUDIT_HEAD_FILE"].endswith("audit/audit-heads.jsonl")
    assert len(secrets_seen) == 2 * len(NAMES)  # nobody shares a password

    # the gateway's role appends to the chained audit log and cannot touch the schema
    log = AuditLog(gw.env["OMS_PG_DSN"], key=b"k" * 32)
    log.append("token:t1", "SubmitOrder", "order:1", {"decision": "allow"})
    log.close()
    with psycopg.connect(gw.env["OMS_PG_DSN"]) as c, pytest.raises(psycopg.errors.InsufficientPrivilege):
        c.execute("DELETE FROM events")


async def test_a_programs_credential_file_opens_only_its_own_subjects(
    plan: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, nats_server: NatsServer
) -> None:
    _stackcreds.prepare(tmp_path / "var", plan)
    gw = next(p for p in plan["programs"] if p.name == "gateway")
    monkeypatch.setenv("OMS_CREDENTIALS", gw.env["OMS_CREDENTIALS"])
    assert load()["nats"]["user"] == "gateway"
    errors: list[Exception] = []

    async def on_error(e: Exception) -> None:
        errors.append(e)

    nc = await nats.connect(
        nats_server.url, error_cb=on_error, allow_reconnect=False, **nats_options(nats_server.url)
    )
    try:
        await nc.publish("audit.gateway", b"{}")
        await nc.flush()
        assert errors == []
        await nc.publish("orders.binance.spot.BTCUSDT", b"forged")
        await nc.flush()
        for _ in range(50):
            if errors:
                break
            await asyncio.sleep(0.02)
        assert any("permissions violation" in str(e) for e in errors)
    finally:
        await nc.close()


def test_a_credential_file_others_can_read_is_refused(tmp_path: Path) -> None:
    from oms.errors import ConfigError

    f = tmp_path / "c.json"
    f.write_text('{"nats": {"user": "x", "password": "y"}}')
    f.chmod(0o644)
    with pytest.raises(ConfigError, match="chmod 600"):
        load(f)
