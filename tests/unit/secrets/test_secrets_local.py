"""LocalKeyStore: round trip, versions, and every way a keystore file can be wrong failing clearly."""

from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path

import pytest

from oms.secrets.local import LocalKeyStore, seal, unseal
from oms.secrets.locked import LockedBuffer
from oms.secrets.model import (
    KeyNotFound,
    KeystoreCorrupt,
    KeystoreLocked,
    VersionConflict,
    new_metadata,
)
from oms.testing import eventually

PASS = "correct horse battery staple"
API_KEY = "AK-planted-4b1d0c"
SECRET = "SK-PLANTED-91e2f0aa77c3d5"


def _meta(**kw):  # type: ignore[no-untyped-def]
    return new_metadata(rotation_days=30, **kw)


def _open(path: Path, passphrase: str = PASS) -> LocalKeyStore:
    return LocalKeyStore(path, LockedBuffer.from_str(passphrase), scrypt_n=2**14)


def _put(store: LocalKeyStore, name: str = "binance_spot", key: str = API_KEY, secret: str = SECRET) -> int:
    with LockedBuffer.from_str(secret) as s:
        return store.put(name, key, s, _meta(permissions=("SPOT",), ip_restrictions=("10.1.2.3",)))


def test_round_trip_versions_and_metadata(store: LocalKeyStore, ks_path: Path) -> None:
    assert _put(store) == 1
    assert _put(store, key="AK-two", secret="SK-two-xxxxxxxx") == 2
    reopened = _open(ks_path)
    with reopened.get("binance_spot") as c:
        assert (c.api_key, c.secret.reveal(), c.version) == ("AK-two", "SK-two-xxxxxxxx", 2)
        assert c.metadata.permissions == ("SPOT",)
        assert c.metadata.ip_restrictions == ("10.1.2.3",)
        assert c.metadata.rotate_after == pytest.approx(c.metadata.created_at + 30 * 86400)
        assert SECRET not in repr(c)
    with reopened.get("binance_spot", 1) as old:
        assert old.secret.reveal() == SECRET
    assert reopened.names() == ["binance_spot"]
    assert [v.version for v in reopened.versions("binance_spot")] == [1, 2]
    reopened.close()


def test_file_is_0600_and_written_atomically(store: LocalKeyStore, ks_path: Path) -> None:
    _put(store)
    assert stat.S_IMODE(os.stat(ks_path).st_mode) == 0o600
    assert sorted(p.name for p in ks_path.parent.iterdir()) == ["keystore.json", "keystore.json.lock"]
    raw = ks_path.read_bytes()
    assert SECRET.encode() not in raw and API_KEY.encode() not in raw
    assert PASS.encode() not in raw


def test_each_record_has_its_own_nonce(store: LocalKeyStore, ks_path: Path) -> None:
    for _ in range(3):
        with LockedBuffer.from_str(SECRET) as s:
            store.put("binance_spot", API_KEY, s, _meta())
    recs = json.loads(ks_path.read_text())["keys"]["binance_spot"]
    assert len({r["nonce"] for r in recs}) == 3
    assert len({r["ct"] for r in recs}) == 3  # same plaintext, different ciphertexts


def test_wrong_passphrase_is_a_clear_error(store: LocalKeyStore, ks_path: Path) -> None:
    _put(store)
    with pytest.raises(KeystoreLocked, match="wrong passphrase") as ei:
        _open(ks_path, "not the passphrase")
    msg = str(ei.value)
    assert str(ks_path) in msg and "OMS_KEYSTORE_PASSPHRASE" in msg
    assert PASS not in msg and "not the passphrase" not in msg and SECRET not in msg


@pytest.mark.parametrize("field", ["ct", "nonce"])
def test_changed_byte_is_detected(store: LocalKeyStore, ks_path: Path, field: str) -> None:
    _put(store)
    doc = json.loads(ks_path.read_text())
    rec = doc["keys"]["binance_spot"][0]
    raw = bytearray(base64.b64decode(rec[field]))
    raw[len(raw) // 2] ^= 0x01
    rec[field] = base64.b64encode(bytes(raw)).decode()
    ks_path.write_text(json.dumps(doc))
    with pytest.raises(KeystoreCorrupt, match="integrity check") as ei:
        _open(ks_path).get("binance_spot")
    assert SECRET not in str(ei.value) and PASS not in str(ei.value)


def test_changed_metadata_is_detected(store: LocalKeyStore, ks_path: Path) -> None:
    _put(store)
    doc = json.loads(ks_path.read_text())
    doc["keys"]["binance_spot"][0]["meta"]["permissions"] = ["SPOT", "WITHDRAW"]
    ks_path.write_text(json.dumps(doc))
    with pytest.raises(KeystoreCorrupt, match="tampered or corrupted"):
        _open(ks_path)


def test_flipped_byte_anywhere_fails(store: LocalKeyStore, ks_path: Path) -> None:
    _put(store)
    good = ks_path.read_bytes()
    for pos in range(0, len(good), max(1, len(good) // 40)):
        bad = bytearray(good)
        bad[pos] ^= 0x04
        ks_path.write_bytes(bytes(bad))
        with pytest.raises((KeystoreCorrupt, KeystoreLocked)):
            _open(ks_path).get("binance_spot")


@pytest.mark.parametrize("keep", [0, 1, 17, 0.5, -1])
def test_truncated_file_fails_clearly(store: LocalKeyStore, ks_path: Path, keep: float) -> None:
    _put(store)
    raw = ks_path.read_bytes()
    n = int(len(raw) * keep) if isinstance(keep, float) else (len(raw) - 1 if keep == -1 else keep)
    ks_path.write_bytes(raw[:n])
    with pytest.raises(KeystoreCorrupt, match="truncated") as ei:
        _open(ks_path)
    assert str(ks_path) in str(ei.value)


def test_wrong_aad_record_sealed_for_another_name(store: LocalKeyStore) -> None:
    _put(store)
    key = store._key
    assert key is not None
    with LockedBuffer.from_str(SECRET) as plain:
        nonce, blob = seal(key, "binance_spot", 1, plain)
    with unseal(key, "binance_spot", 1, nonce, blob, "t") as ok:
        assert ok.reveal() == SECRET
    with pytest.raises(KeystoreCorrupt, match="another key name/version"):
        unseal(key, "binance_usdm", 1, nonce, blob, "t")
    with pytest.raises(KeystoreCorrupt, match="another key name/version"):
        unseal(key, "binance_spot", 2, nonce, blob, "t")


def test_wrong_aad_swapped_records_in_a_validly_maced_file(store: LocalKeyStore, ks_path: Path) -> None:
    """An attacker who could re-MAC the file still cannot move a ciphertext to another key name."""
    _put(store, "binance_spot")
    _put(store, "binance_usdm", key="AK-fut", secret="SK-fut-zzzzzzzz")
    doc = json.loads(ks_path.read_text())
    a, b = doc["keys"]["binance_spot"][0], doc["keys"]["binance_usdm"][0]
    a["ct"], b["ct"], a["nonce"], b["nonce"] = b["ct"], a["ct"], b["nonce"], a["nonce"]
    store._write_doc(doc)  # recomputes the file MAC with the real key
    fresh = _open(ks_path)
    with pytest.raises(KeystoreCorrupt, match="binance_spot v1") as ei:
        fresh.get("binance_spot")
    assert SECRET not in str(ei.value)


def test_missing_name_version_and_cas(store: LocalKeyStore) -> None:
    with pytest.raises(KeyNotFound, match="oms keys add binance_spot"):
        store.get("binance_spot")
    _put(store)
    with pytest.raises(KeyNotFound, match="no version 7"):
        store.get("binance_spot", 7)
    with (
        LockedBuffer.from_str(SECRET) as s,
        pytest.raises(VersionConflict, match="expected current version 0"),
    ):
        store.put("binance_spot", API_KEY, s, _meta(), cas=0)
    with LockedBuffer.from_str(SECRET) as s:
        assert store.put("binance_spot", API_KEY, s, _meta(), cas=1) == 2


def test_two_store_instances_do_not_lose_writes(ks_path: Path) -> None:
    a, b = _open(ks_path), None
    _put(a)
    b = _open(ks_path)
    _put(a, "binance_usdm")
    _put(b, "okx_spot")
    _put(a, "bybit_linear")
    assert _open(ks_path).names() == ["binance_spot", "binance_usdm", "bybit_linear", "okx_spot"]


def test_update_state_and_watch_hot_reload(store: LocalKeyStore, ks_path: Path) -> None:
    _put(store)
    seen: list[tuple[int, str]] = []
    w = store.watch("binance_spot", lambda c: seen.append((c.version, c.secret.reveal())), interval=0.02)
    writer = _open(ks_path)  # another process/instance rotates the key
    _put(writer, key="AK-new", secret="SK-new-yyyyyyyy")
    eventually(lambda: seen, timeout=5)
    assert seen == [(2, "SK-new-yyyyyyyy")]
    w.stop()
    writer.update_state("binance_spot", 1, revoke_after=123.0)
    assert store.versions("binance_spot")[0].metadata.revoke_after == 123.0
    assert store.versions("binance_spot")[0].state == "grace"
