"""`[secrets]` settings: defaults valid, every bad value named, passphrase sources checked."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from oms.errors import ConfigError
from oms.secrets.model import KeystoreLocked, parse_name
from oms.secrets.settings import Settings, load_settings, read_passphrase, validate


def test_defaults_are_valid() -> None:
    assert validate(Settings()) == []
    assert Settings().rotation_days == 30


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("backend", "s3"),
        ("scrypt_n", 1000),
        ("rotation_days", 0),
        ("grace_s", -1),
        ("alert_before_days", 40),
        ("mlock", "maybe"),
        ("vault_url", "127.0.0.1:8200"),
        ("vault_auth", "ldap"),
    ],
)
def test_bad_values_are_named(field: str, value: object) -> None:
    problems = validate(Settings(**{field: value}))
    assert problems and problems[0][0] == field and problems[0][1] == value and "must" in problems[0][2]


def test_load_settings_reports_file_key_value(tmp_path: Path) -> None:
    cfg = tmp_path / "oms.toml"
    cfg.write_text("[secrets]\nrotation_days = -3\n")
    with pytest.raises(ConfigError, match=r"rotation_days = -3.*must be > 0"):
        load_settings(cfg)
    cfg.write_text("[secrets]\nrotaton_days = 3\n")
    with pytest.raises(ConfigError, match="rotaton_days"):
        load_settings(cfg)
    cfg.write_text("[secrets]\ngrace_s = 60\n")
    assert load_settings(cfg).grace_s == 60


def test_passphrase_env_then_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OMS_KEYSTORE_PASSPHRASE", raising=False)
    with pytest.raises(KeystoreLocked, match="OMS_KEYSTORE_PASSPHRASE"):
        read_passphrase(Settings())
    f = tmp_path / "pass"
    f.write_text("from-file\n")
    f.chmod(0o644)
    with pytest.raises(KeystoreLocked, match="chmod 600"):
        read_passphrase(Settings(passphrase_file=str(f)))
    f.chmod(0o600)
    assert read_passphrase(Settings(passphrase_file=str(f))).reveal() == "from-file"
    monkeypatch.setenv("OMS_KEYSTORE_PASSPHRASE", "from-env")
    assert read_passphrase(Settings(passphrase_file=str(f))).reveal() == "from-env"
    assert "OMS_KEYSTORE_PASSPHRASE" not in os.environ  # taken out: no child program inherits it
    with pytest.raises(KeystoreLocked, match="does not exist"):
        read_passphrase(Settings(passphrase_file=str(tmp_path / "missing")))


def test_key_names() -> None:
    assert parse_name("binance_spot") == ("binance", "spot")
    assert parse_name("binance_usdm") == ("binance", "usdm")
    for bad in ("binance", "Binance_spot", "kraken_spot", "binance_options", "binance-spot"):
        with pytest.raises(Exception, match="key name"):
            parse_name(bad)
