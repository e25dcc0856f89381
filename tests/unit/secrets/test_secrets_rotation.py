"""Rotator: new version with CAS, grace, revocation after grace, schedule, alerts, audit of every step.

The venue side here is a key table (`KeyTable`) standing in for a venue's key admin API; the real one
(the Binance simulator's admin API) is exercised in tests/integration/secrets/.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from oms.errors import Rejected
from oms.secrets.audit import JsonlAuditSink
from oms.secrets.local import LocalKeyStore
from oms.secrets.locked import LockedBuffer
from oms.secrets.model import DAY, KeyMetadata, new_metadata
from oms.secrets.rotation import Alert, CallableRevoker, RotationScheduler, Rotator
from oms.secrets.settings import Settings
from oms.testing import eventually

T0 = 1_800_000_000.0


@dataclass
class KeyTable:
    live: dict[str, str] = field(default_factory=dict)
    fail_next: int = 0

    def issue(self, name: str, previous: KeyMetadata) -> tuple[str, LockedBuffer]:
        k, s = "AK-" + secrets.token_hex(8), "SK-" + secrets.token_hex(16)
        self.live[k] = s
        return k, LockedBuffer.from_str(s)

    def revoke_key(self, api_key: str) -> None:
        if self.fail_next:
            self.fail_next -= 1
            raise ConnectionError("venue admin API down")
        del self.live[api_key]


class Clock:
    def __init__(self) -> None:
        self.t = T0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def rig(store: LocalKeyStore, tmp_path: Path):  # type: ignore[no-untyped-def]
    venue, clock, alerts = KeyTable(), Clock(), []
    audit = JsonlAuditSink(tmp_path / "audit.jsonl")
    rot = Rotator(
        store,
        audit,
        Settings(grace_s=600, rotation_days=30, alert_before_days=7),
        revokers={"binance": CallableRevoker(venue.revoke_key)},
        issuers={"binance_spot": venue},
        alert_hooks=[alerts.append],
        clock=clock,
    )
    k, s = venue.issue("binance_spot", KeyMetadata())
    store.put("binance_spot", k, s, new_metadata(permissions=("SPOT",), rotation_days=30, now=T0))
    return rot, venue, clock, alerts, audit


def test_rotate_grace_then_revoke(rig) -> None:  # type: ignore[no-untyped-def]
    rot, venue, clock, _alerts, audit = rig
    old = rot.store.get("binance_spot")
    res = rot.rotate("binance_spot")
    assert (res.old_version, res.new_version) == (1, 2)
    new = rot.store.get("binance_spot")
    assert new.api_key != old.api_key and new.metadata.permissions == ("SPOT",)
    assert set(venue.live) == {old.api_key, new.api_key}  # both valid during grace
    clock.t += 599
    assert rot.revoke_due() == []
    assert old.api_key in venue.live
    clock.t += 2
    assert rot.revoke_due() == [("binance_spot", 1)]
    assert set(venue.live) == {new.api_key}
    assert rot.store.versions("binance_spot")[0].state == "revoked"
    assert rot.revoke_due() == []  # idempotent
    actions = [e["action"] for e in audit.read()]
    assert actions == ["key.rotate.start", "key.rotate.written", "key.grace", "key.revoked"]


def test_revoke_failure_alerts_and_retries(rig) -> None:  # type: ignore[no-untyped-def]
    rot, venue, clock, alerts, audit = rig
    rot.rotate("binance_spot", grace_s=0)
    venue.fail_next = 1
    clock.t += 1
    assert rot.revoke_due() == []
    assert [a.kind for a in alerts] == ["revoke_failed"]
    assert "venue admin API down" in alerts[0].message
    assert rot.revoke_due() == [("binance_spot", 1)]
    assert "key.revoke.failed" in [e["action"] for e in audit.read()]


def test_alerts_before_due_then_auto_rotation(rig) -> None:  # type: ignore[no-untyped-def]
    rot, _venue, clock, alerts, _audit = rig
    clock.t = T0 + 22 * DAY
    assert rot.check_due() == []
    clock.t = T0 + 23.5 * DAY
    assert [a.kind for a in rot.check_due()] == ["rotation_soon"]
    rot.check_due()  # the same alert is not repeated
    assert [a.kind for a in alerts] == ["rotation_soon"]
    clock.t = T0 + 30 * DAY + 1
    rot.check_due()  # due and an issuer exists: rotated by the schedule
    assert rot.store.current_version("binance_spot") == 2


def test_overdue_without_issuer_and_venue_expiry(rig) -> None:  # type: ignore[no-untyped-def]
    rot, _venue, clock, alerts, _audit = rig
    rot.issuers.clear()
    with LockedBuffer.from_str("SK-usdm-xxxxxxxxxxxx") as s:
        rot.store.put(
            "binance_usdm", "AK-usdm", s, new_metadata(rotation_days=30, expires_at=T0 + 10 * DAY, now=T0)
        )
    clock.t = T0 + 5 * DAY
    assert [(a.name, a.kind) for a in rot.check_due()] == [("binance_usdm", "expiry_soon")]
    clock.t = T0 + 31 * DAY
    kinds = sorted((a.name, a.kind) for a in rot.check_due())
    assert kinds == [
        ("binance_spot", "rotation_overdue"),
        ("binance_usdm", "expired"),
        ("binance_usdm", "rotation_overdue"),
    ]
    assert "oms keys rotate binance_spot" in next(a.message for a in alerts if a.kind == "rotation_overdue")
    assert rot.store.current_version("binance_spot") == 1
    with pytest.raises(Rejected, match="no key issuer for binance_spot"):
        rot.rotate("binance_spot")


def test_no_revoker_means_a_person_is_told(rig) -> None:  # type: ignore[no-untyped-def]
    rot, venue, clock, alerts, audit = rig
    rot.revokers.clear()
    old = rot.store.get("binance_spot")
    rot.rotate("binance_spot", grace_s=10)
    clock.t += 11
    rot.revoke_due()
    a: Alert = next(a for a in alerts if a.kind == "revoke_manually")
    assert old.fingerprint in a.message and old.api_key not in a.message
    assert audit.read()[-1]["via"] == "manual"
    assert old.api_key in venue.live  # nothing pretended to revoke it at the venue


def test_scheduler_thread_ticks(rig) -> None:  # type: ignore[no-untyped-def]
    rot, venue, clock, _alerts, _audit = rig
    rot.rotate("binance_spot", grace_s=5)
    clock.t += 6
    sched = RotationScheduler(rot, interval=0.02).start()
    try:
        eventually(lambda: len(venue.live) == 1, timeout=5)
    finally:
        sched.stop()
    assert sched.ticks >= 1
