"""Secrets room: the schedule's pieces — a version stored by hand is adopted (old one gets its grace,
audited), an overdue key without a venue key API is an alert for a person, key_admins are checked."""

from __future__ import annotations

from pathlib import Path

import pytest

from oms.errors import ConfigError
from oms.secrets.audit import JsonlAuditSink
from oms.secrets.local import LocalKeyStore
from oms.secrets.locked import LockedBuffer
from oms.secrets.model import DAY, new_metadata
from oms.secrets.schedule import KeySchedule
from oms.secrets.settings import Settings, validate


def test_hand_stored_version_is_adopted_and_overdue_key_alerts(store: LocalKeyStore, tmp_path: Path) -> None:
    now = 1_900_000_000.0
    audit = JsonlAuditSink(tmp_path / "a.jsonl")
    store.put(
        "binance_spot",
        "K1",
        LockedBuffer.from_str("s1" * 16),
        new_metadata(rotation_days=30, now=now - 31 * DAY),
    )
    sched = KeySchedule(store, audit, Settings(grace_s=60), clock=lambda: now)
    alerts = sched.tick()
    assert [(a.name, a.kind) for a in alerts] == [("binance_spot", "rotation_overdue")]
    assert "oms keys rotate binance_spot" in alerts[0].message
    assert sched.tick() == []  # told once
    store.put(
        "binance_spot", "K2", LockedBuffer.from_str("s2" * 16), new_metadata(rotation_days=30, now=now), cas=1
    )
    assert sched.tick() == []
    v1 = store.versions("binance_spot")[0].metadata
    assert v1.revoke_after == now + 60 and not v1.revoked_at
    detected = [e for e in audit.read() if e["action"] == "key.rotate.detected"]
    assert detected and detected[0]["old_version"] == 1 and detected[0]["new_version"] == 2
    later = KeySchedule(store, audit, Settings(grace_s=60), clock=lambda: now + 61)
    alerts = later.tick()  # Binance has no key API here: a person deletes the old key
    assert [(a.kind, a.version) for a in alerts] == [("revoke_manually", 1)]
    assert store.versions("binance_spot")[0].metadata.revoked_at == now + 61


def test_key_admins_are_checked(store: LocalKeyStore, tmp_path: Path) -> None:
    assert validate(Settings(key_admins={"binance": "no colon"}))[0][0] == "key_admins.binance"
    with pytest.raises(ConfigError, match=r"key_admins\.binance.*oms\.nowhere:x"):
        KeySchedule(
            store, JsonlAuditSink(tmp_path / "a.jsonl"), Settings(key_admins={"binance": "oms.nowhere:x"})
        )
    with pytest.raises(ConfigError, match="neither issue"):
        KeySchedule(
            store, JsonlAuditSink(tmp_path / "a.jsonl"), Settings(key_admins={"binance": "builtins:object"})
        )
