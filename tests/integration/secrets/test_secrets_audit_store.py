"""The secrets audit trail in the store room's hash-chained PostgreSQL audit log (real Postgres)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from oms.secrets.audit import JsonlAuditSink, StoreAuditSink
from oms.secrets.local import LocalKeyStore
from oms.secrets.locked import LockedBuffer
from oms.secrets.model import new_metadata
from oms.secrets.rotation import CallableRevoker, Rotator
from oms.secrets.settings import Settings
from oms.store.audit import AuditLog

SECRET = "audit-store-planted-secret-4242"


def test_rotation_steps_land_in_the_chained_audit_log(pg_dsn: str, tmp_path: Path) -> None:
    store = LocalKeyStore(tmp_path / "ks.json", LockedBuffer.from_str("pw-audit"), scrypt_n=2**14)
    with LockedBuffer.from_str(SECRET) as s:
        store.put("binance_spot", "AK-audit-1", s, new_metadata(rotation_days=30))
    alog = AuditLog(pg_dsn)
    sink = StoreAuditSink(alog, JsonlAuditSink(tmp_path / "audit.jsonl"))
    revoked: list[str] = []
    rot = Rotator(store, sink, Settings(grace_s=0), revokers={"binance": CallableRevoker(revoked.append)})
    with LockedBuffer.from_str(SECRET + "2") as s:
        rot.rotate("binance_spot", "AK-audit-2", s)
    rot.revoke_due()
    rows = alog.rows()
    assert [r.action for r in rows] == ["key.rotate.start", "key.rotate.written", "key.grace", "key.revoked"]
    assert {r.subject for r in rows} == {"binance_spot"}
    assert all(SECRET not in r.detail and "AK-audit" not in r.detail for r in rows)
    assert alog.verify().ok
    assert sink.failures == 0 and len(sink.mirror.read()) == 4
    alog.close()
    store.close()


def test_cli_with_audit_store_enabled(pg_dsn: str, tmp_path: Path) -> None:
    cfg = tmp_path / "oms.toml"
    cfg.write_text(
        f'[secrets]\nkeystore_path = "{tmp_path / "ks.json"}"\naudit_path = "{tmp_path / "a.jsonl"}"\n'
        "scrypt_n = 16384\naudit_store = true\n"
    )
    env = {**os.environ, "OMS_KEYSTORE_PASSPHRASE": "pw-cli", "OMS_PG_DSN": pg_dsn}
    code = "import sys; from oms.cli import main; sys.exit(main(sys.argv[1:]))"
    r = subprocess.run(
        [sys.executable, "-c", code, "keys", "--config", str(cfg), "add", "okx_spot"],
        input=f"AK-okx-cli\n{SECRET}\n",
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    rows = AuditLog(pg_dsn).rows()
    assert [(x.action, x.subject) for x in rows] == [("key.added", "okx_spot")]
    assert SECRET not in r.stdout + r.stderr + rows[0].detail
