"""A planted key must never reach a log line, CLI output, the audit trail, an exception or the file in clear.

Runs the real `oms keys` CLI (subprocesses, DEBUG + JSON logs) through add/list/show-meta/rotate/check/
import and error paths, and the in-process paths (watch reload, rotation, revocation, logging a
credential, a deliberate attempt to log the revealed secret), then searches everything they wrote.
"""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

from oms import log
from oms.secrets.audit import JsonlAuditSink
from oms.secrets.local import LocalKeyStore
from oms.secrets.locked import LockedBuffer
from oms.secrets.model import KeystoreLocked, new_metadata
from oms.secrets.rotation import CallableRevoker, Rotator
from oms.secrets.settings import Settings
from oms.testing import eventually

PLANTED_KEY = "PLANTEDapikey0c9b7e5d3f1a"
PLANTED_SECRET = "PLANTEDsecret8e6c4a2f0d9b7e5c3a1"
ROTATED_SECRET = "PLANTEDrotated77aa55cc33ee11"
PASS = "leak-test passphrase 123"


def _cli(
    args: list[str], cfg: Path, stdin: str = "", passphrase: str = PASS
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OMS_KEYSTORE_PASSPHRASE": passphrase}
    code = "import sys; from oms.cli import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.run(
        [
            sys.executable,
            "-c",
            code,
            "--json-logs",
            "--log-level",
            "DEBUG",
            "keys",
            "--config",
            str(cfg),
            *args,
        ],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


def test_cli_paths_never_show_the_planted_key(tmp_path: Path) -> None:
    cfg = tmp_path / "oms.toml"
    ks, audit = tmp_path / "ks.json", tmp_path / "audit.jsonl"
    cfg.write_text(f'[secrets]\nkeystore_path = "{ks}"\naudit_path = "{audit}"\nscrypt_n = 16384\n')
    imp = tmp_path / "import.json"
    imp.write_text(json.dumps({"okx_spot": {"api_key": PLANTED_KEY + "x", "secret": PLANTED_SECRET + "x"}}))
    imp.chmod(0o600)
    runs = [
        _cli(["add", "binance_spot", "--permissions", "SPOT"], cfg, f"{PLANTED_KEY}\n{PLANTED_SECRET}\n"),
        _cli(["add", "binance_spot"], cfg, f"{PLANTED_KEY}\n{PLANTED_SECRET}\n"),  # refused: exists
        _cli(["list"], cfg),
        _cli(["list", "--json"], cfg),
        _cli(["show-meta", "binance_spot"], cfg),
        _cli(["show-meta", "binance_spot", "--json"], cfg),
        _cli(["rotate", "binance_spot", "--grace", "0"], cfg, f"{PLANTED_KEY}2\n{ROTATED_SECRET}\n"),
        _cli(["check"], cfg),
        _cli(["import", str(imp)], cfg),
        _cli(["list"], cfg, passphrase="wrong passphrase"),
        _cli(["rotate", "binance_spot"], cfg, "only-one-line\n"),
    ]
    rcs = [r.returncode for r in runs]
    assert rcs == [0, 2, 0, 0, 0, 0, 0, 0, 0, 2, 2], [r.stderr[-300:] for r in runs]
    assert "wrong passphrase" in runs[9].stderr
    assert "exactly two non-empty lines" in runs[10].stderr
    assert "binance_spot" in runs[2].stdout and "sha256:" in runs[2].stdout
    assert json.loads(runs[3].stdout)[0]["current"] == 1
    outputs = [r.stdout + r.stderr for r in runs] + [audit.read_text(), ks.read_text()]
    assert any('"action": "key.revoked"' in o for o in outputs)
    for text in outputs:
        for planted in (PLANTED_KEY, PLANTED_SECRET, ROTATED_SECRET, PASS):
            assert planted not in text


def test_in_process_logging_paths_redact(tmp_path: Path) -> None:
    stream = io.StringIO()
    log.setup(json_lines=True, level="DEBUG", stream=stream)
    try:
        store = LocalKeyStore(tmp_path / "ks.json", LockedBuffer.from_str(PASS), scrypt_n=2**14)
        audit = JsonlAuditSink(tmp_path / "audit.jsonl")
        with LockedBuffer.from_str(PLANTED_SECRET) as s:
            store.put("binance_spot", PLANTED_KEY, s, new_metadata(rotation_days=30))
        revoked: list[str] = []
        rot = Rotator(
            store, audit, Settings(grace_s=0), revokers={"binance": CallableRevoker(revoked.append)}
        )
        got: list[int] = []
        w = store.watch("binance_spot", lambda c: got.append(c.version), interval=0.02)
        with LockedBuffer.from_str(ROTATED_SECRET) as s:
            rot.rotate("binance_spot", PLANTED_KEY + "2", s)
        eventually(lambda: got == [2], timeout=5)
        w.stop()
        rot.tick()
        assert revoked == [PLANTED_KEY]
        room = log.get("oms.secrets.test")
        cred = store.get("binance_spot", 1)
        room.info("credential %s / %r / secret %s", cred, cred, cred.secret)
        # a careless caller: the revealed copy was registered with the log scrubber
        room.warning("debug dump %s", cred.secret.reveal())
        room.error("failed for key %s", cred.api_key)
        try:
            LocalKeyStore(tmp_path / "ks.json", LockedBuffer.from_str("nope"), scrypt_n=2**14)
        except KeystoreLocked:
            room.exception("open failed")
        store.close()
    finally:
        for h in list(logging.getLogger("oms").handlers):
            logging.getLogger("oms").removeHandler(h)
    out = stream.getvalue() + (tmp_path / "audit.jsonl").read_text()
    assert "debug dump ***" in out and "wrong passphrase" in out
    for planted in (PLANTED_KEY, PLANTED_SECRET, ROTATED_SECRET, PASS):
        assert planted not in out
