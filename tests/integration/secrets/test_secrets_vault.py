"""VaultKeyStore against a real OpenBao dev server: write, read, rotate, old versions, permission denied,
AppRole login, token renewal and re-login, hot reload."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from oms.secrets.audit import JsonlAuditSink
from oms.secrets.locked import LockedBuffer
from oms.secrets.model import KeyNotFound, KeystoreLocked, SecretAccessDenied, VersionConflict, new_metadata
from oms.secrets.rotation import CallableRevoker, Rotator
from oms.secrets.settings import Settings
from oms.secrets.store import open_store
from oms.secrets.vault import VaultKeyStore
from oms.services.openbao import OpenBaoServer
from oms.testing import eventually

SECRET_1 = "vault-secret-one-5f1e2d3c"
SECRET_2 = "vault-secret-two-9a8b7c6d"


def _put(ks: VaultKeyStore, name: str, key: str, secret: str, cas: int | None = None) -> int:
    with LockedBuffer.from_str(secret) as s:
        return ks.put(
            name,
            key,
            s,
            new_metadata(permissions=("SPOT",), ip_restrictions=("127.0.0.1",), rotation_days=30),
            cas=cas,
        )


def test_write_read_rotate_read_old_version(
    openbao_server: OpenBaoServer, bao_root: Any, tmp_path: Path
) -> None:
    ks = VaultKeyStore(openbao_server.url, token=openbao_server.root_token, watch_interval=0.05)
    try:
        assert _put(ks, "binance_spot", "AK-vault-1", SECRET_1, cas=0) == 1
        # it is really at secret/exchanges/binance_spot, KV v2
        raw = bao_root.secrets.kv.v2.read_secret_version(
            path="exchanges/binance_spot", mount_point="secret", raise_on_deleted_version=True
        )
        assert raw["data"]["data"]["binance_spot_api_key"] == "AK-vault-1"  # the seed's field names
        with ks.get("binance_spot") as c:
            assert (c.version, c.api_key, c.secret.reveal()) == (1, "AK-vault-1", SECRET_1)
            assert c.metadata.permissions == ("SPOT",) and c.metadata.ip_restrictions == ("127.0.0.1",)
        revoked: list[str] = []
        rot = Rotator(
            ks,
            JsonlAuditSink(tmp_path / "a.jsonl"),
            Settings(grace_s=0),
            revokers={"binance": CallableRevoker(revoked.append)},
        )
        with LockedBuffer.from_str(SECRET_2) as s:
            res = rot.rotate("binance_spot", "AK-vault-2", s)
        assert (res.old_version, res.new_version) == (1, 2)
        with ks.get("binance_spot") as cur, ks.get("binance_spot", 1) as old:
            assert (cur.version, cur.secret.reveal()) == (2, SECRET_2)
            assert (old.version, old.secret.reveal()) == (1, SECRET_1)
            assert old.metadata.revoke_after > 0  # grace recorded in custom_metadata
        assert rot.revoke_due() == [("binance_spot", 1)]
        assert revoked == ["AK-vault-1"]
        states = [v.state for v in ks.versions("binance_spot")]
        assert states == ["revoked", "active"]
        with pytest.raises(VersionConflict, match="check-and-set"):
            _put(ks, "binance_spot", "AK-x", "x" * 12, cas=1)
        assert "binance_spot" in ks.names()
        with pytest.raises(KeyNotFound, match="secret/exchanges/upbit_spot"):
            ks.get("upbit_spot")
    finally:
        ks.close()


def test_permission_denied_is_clear(openbao_server: OpenBaoServer, bao_root: Any) -> None:
    root = VaultKeyStore(openbao_server.url, token=openbao_server.root_token)
    _put(root, "bybit_linear", "AK-bybit", SECRET_1)
    _put(root, "okx_spot", "AK-okx", SECRET_2)
    bao_root.sys.create_or_update_policy(
        name="oms-read-bybit",
        policy='path "secret/data/exchanges/bybit_linear" {capabilities=["read"]}\n'
        'path "secret/metadata/exchanges/bybit_linear" {capabilities=["read"]}',
    )
    tok = bao_root.auth.token.create(policies=["oms-read-bybit"], ttl="10m")["auth"]["client_token"]
    limited = VaultKeyStore(openbao_server.url, token=tok)
    try:
        with limited.get("bybit_linear") as c:
            assert c.secret.reveal() == SECRET_1
        with pytest.raises(SecretAccessDenied) as ei:
            limited.get("okx_spot")
        msg = str(ei.value)
        assert "permission denied" in msg and "secret/exchanges/okx_spot" in msg
        assert 'path "secret/data/exchanges/okx_spot"' in msg  # says how to fix it
        assert SECRET_2 not in msg and tok not in msg
        with pytest.raises(SecretAccessDenied, match="write"):
            _put(limited, "bybit_linear", "AK-new", "new-secret-xx")
    finally:
        limited.close()
        root.close()


def _approle(bao_root: Any, token_ttl: str, token_max_ttl: str) -> tuple[str, str, str]:
    mount = f"approle-{uuid.uuid4().hex[:8]}"
    bao_root.sys.enable_auth_method("approle", path=mount)
    bao_root.sys.create_or_update_policy(
        name="oms-connector",
        policy='path "secret/data/exchanges/*" {capabilities=["read"]}\n'
        'path "secret/metadata/exchanges/*" {capabilities=["read","list"]}',
    )
    bao_root.auth.approle.create_or_update_approle(
        "oms-connector",
        token_policies=["oms-connector"],
        token_ttl=token_ttl,
        token_max_ttl=token_max_ttl,
        mount_point=mount,
    )
    role_id = bao_root.auth.approle.read_role_id("oms-connector", mount_point=mount)["data"]["role_id"]
    secret_id = bao_root.auth.approle.generate_secret_id("oms-connector", mount_point=mount)["data"][
        "secret_id"
    ]
    return mount, role_id, secret_id


def test_approle_login_renewal_and_relogin(openbao_server: OpenBaoServer, bao_root: Any) -> None:
    root = VaultKeyStore(openbao_server.url, token=openbao_server.root_token)
    _put(root, "upbit_spot", "AK-upbit", SECRET_1)
    mount, role_id, secret_id = _approle(bao_root, token_ttl="4s", token_max_ttl="7s")
    ks = VaultKeyStore(openbao_server.url, role_id=role_id, secret_id=secret_id, approle_mount=mount)
    try:
        assert ks.logins == 1
        with ks.get("upbit_spot") as c:
            assert c.secret.reveal() == SECRET_1
        with pytest.raises(SecretAccessDenied):  # the role's policy is read-only
            _put(ks, "upbit_spot", "AK-x", "x" * 12)
        assert ks.logins == 1  # a real permission denial does not trigger a new login
        # half the 4 s TTL used -> the token is renewed before the next call
        eventually(lambda: ks.current_version("upbit_spot") and ks.renewals >= 1, timeout=6, max_interval=0.3)
        # near the 7 s max TTL renewal cannot extend it any more: the store logs in again, no gap
        eventually(lambda: ks.current_version("upbit_spot") and ks.logins >= 2, timeout=12, max_interval=0.3)
        with ks.get("upbit_spot") as c:
            assert c.secret.reveal() == SECRET_1
    finally:
        ks.close()
        root.close()
    with pytest.raises(KeystoreLocked, match=r"AppRole login .* refused"):
        VaultKeyStore(openbao_server.url, role_id=role_id, secret_id="wrong-secret-id", approle_mount=mount)


def test_open_store_from_settings_and_watch(
    openbao_server: OpenBaoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OMS_TEST_VAULT_TOKEN", openbao_server.root_token)
    s = Settings(
        backend="vault",
        vault_url=openbao_server.url,
        vault_token_env="OMS_TEST_VAULT_TOKEN",
        vault_prefix="exchanges-watch",
        watch_interval_s=0.05,
    )
    ks = open_store(s)
    assert isinstance(ks, VaultKeyStore)
    try:
        _put(ks, "binance_usdm", "AK-w1", SECRET_1)
        seen: list[tuple[int, str]] = []
        w = ks.watch("binance_usdm", lambda c: seen.append((c.version, c.secret.reveal())))
        writer = VaultKeyStore(openbao_server.url, token=openbao_server.root_token, prefix="exchanges-watch")
        _put(writer, "binance_usdm", "AK-w2", SECRET_2)
        eventually(lambda: seen, timeout=5)
        assert seen == [(2, SECRET_2)]
        w.stop()
        writer.close()
    finally:
        ks.close()
    monkeypatch.delenv("OMS_TEST_VAULT_TOKEN")
    with pytest.raises(KeystoreLocked, match="OMS_TEST_VAULT_TOKEN"):
        open_store(s)
    monkeypatch.setenv("OMS_TEST_VAULT_TOKEN", "not-a-token")
    with pytest.raises(KeystoreLocked, match="refused"):
        open_store(s)
