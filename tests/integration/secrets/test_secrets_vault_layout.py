"""VaultKeyStore and the seed's key layout on a real OpenBao: `{name}_api_key` / `{name}_secret_key` with
`meta` beside them; hand-written keys are read as they are; the old `api_key`/`secret` fields are still
read with a warning naming the path; `put` (and so `oms keys add`) writes the seed's layout."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import uuid
from typing import Any

import pytest

from oms.secrets.locked import LockedBuffer
from oms.secrets.model import SecretError, new_metadata
from oms.secrets.vault import VaultKeyStore
from oms.services.openbao import OpenBaoServer


@pytest.fixture
def ks(openbao_server: OpenBaoServer) -> Any:
    prefix = f"layout{uuid.uuid4().hex[:8]}"
    s = VaultKeyStore(openbao_server.url, token=openbao_server.root_token, prefix=prefix)
    yield s
    s.close()


def _raw(bao_root: Any, ks: VaultKeyStore, name: str) -> dict[str, Any]:
    return bao_root.secrets.kv.v2.read_secret_version(
        path=f"{ks.prefix}/{name}", mount_point="secret", raise_on_deleted_version=True
    )["data"]["data"]


def test_put_writes_the_seed_layout(ks: VaultKeyStore, bao_root: Any) -> None:
    with LockedBuffer.from_str("SK-fut-0123456789") as s:
        ks.put("binance_futures", "AK-fut", s, new_metadata(permissions=("FUTURES",), rotation_days=30))
    raw = _raw(bao_root, ks, "binance_futures")
    assert raw["binance_futures_api_key"] == "AK-fut"
    assert raw["binance_futures_secret_key"] == "SK-fut-0123456789"
    assert "api_key" not in raw and "secret" not in raw and '"FUTURES"' in raw["meta"]
    with ks.get("binance_futures") as c:
        assert (c.api_key, c.secret.reveal(), c.metadata.permissions) == (
            "AK-fut",
            "SK-fut-0123456789",
            ("FUTURES",),
        )


def test_hand_written_seed_key_is_read_as_it_is(ks: VaultKeyStore, bao_root: Any, caplog) -> None:
    bao_root.secrets.kv.v2.create_or_update_secret(
        path=f"{ks.prefix}/binance_spot",
        mount_point="secret",
        secret={"binance_spot_api_key": "AK-hand", "binance_spot_secret_key": "SK-hand-abcdef"},
    )
    with caplog.at_level(logging.WARNING), ks.get("binance_spot") as c:
        assert (c.api_key, c.secret.reveal(), c.version) == ("AK-hand", "SK-hand-abcdef", 1)
        assert c.metadata.created_at == 0.0  # no metadata written: defaults
    assert "old field names" not in caplog.text


def test_old_fields_still_read_with_a_warning_naming_the_path(
    ks: VaultKeyStore, bao_root: Any, caplog
) -> None:
    bao_root.secrets.kv.v2.create_or_update_secret(
        path=f"{ks.prefix}/binance_usdm",
        mount_point="secret",
        secret={"api_key": "AK-old", "secret": "SK-old-xyz"},
    )
    with caplog.at_level(logging.WARNING):
        with ks.get("binance_usdm") as c:
            assert (c.api_key, c.secret.reveal()) == ("AK-old", "SK-old-xyz")
        with ks.get("binance_usdm"):
            pass
    warnings = [r.getMessage() for r in caplog.records if "old field names" in r.getMessage()]
    assert len(warnings) == 1  # once per path and version, not on every read
    assert f"secret/{ks.prefix}/binance_usdm" in warnings[0] and "binance_usdm_api_key" in warnings[0]
    assert "SK-old-xyz" not in caplog.text


def test_wrong_field_names_are_a_clear_error(ks: VaultKeyStore, bao_root: Any) -> None:
    bao_root.secrets.kv.v2.create_or_update_secret(
        path=f"{ks.prefix}/bybit_linear",
        mount_point="secret",
        secret={"key": "AK", "binance_spot_secret_key": "x"},
    )
    with pytest.raises(SecretError, match="bybit_linear_api_key and bybit_linear_secret_key"):
        ks.get("bybit_linear")


def test_oms_keys_add_writes_the_seed_layout(openbao_server: OpenBaoServer, bao_root: Any, tmp_path) -> None:
    prefix = f"cli{uuid.uuid4().hex[:8]}"
    cfg = tmp_path / "oms.toml"
    cfg.write_text(
        f'[secrets]\nbackend = "vault"\nvault_url = "{openbao_server.url}"\nvault_prefix = "{prefix}"\n'
        f'audit_path = "{tmp_path / "audit.jsonl"}"\n'
    )
    code = "import sys; from oms.cli import main; sys.exit(main(sys.argv[1:]))"
    res = subprocess.run(
        [
            sys.executable,
            "-c",
            code,
            "keys",
            "--config",
            str(cfg),
            "add",
            "binance_futures",
            "--permissions",
            "FUTURES",
        ],
        input="AK-cli-fut\nSK-cli-fut-0123456789\n",
        capture_output=True,
        text=True,
        env={**os.environ, "VAULT_TOKEN": openbao_server.root_token},
        cwd=tmp_path,
        timeout=60,
    )
    assert res.returncode == 0, res.stderr
    raw = bao_root.secrets.kv.v2.read_secret_version(
        path=f"{prefix}/binance_futures", mount_point="secret", raise_on_deleted_version=True
    )["data"]["data"]
    assert raw["binance_futures_api_key"] == "AK-cli-fut"
    assert raw["binance_futures_secret_key"] == "SK-cli-fut-0123456789"
    assert '"FUTURES"' in raw["meta"] and set(raw) == {
        "binance_futures_api_key",
        "binance_futures_secret_key",
        "meta",
    }
