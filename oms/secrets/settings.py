"""Secrets room settings: the `[secrets]` section of configs/oms.toml, and where the passphrase comes from.

Touches nothing but reading the passphrase file / environment named here (never logged). Read by
oms/secrets and oms/cli/keys.py through `oms.config.load().section("secrets")`, or `load_settings()`
which falls back to reading `[secrets]` from the TOML file itself when the config room is not present.
"""

from __future__ import annotations

import os
import stat
import tomllib
from pathlib import Path

import msgspec

from oms import log
from oms.errors import ConfigError
from oms.secrets.locked import LockedBuffer

SECTION = "secrets"
BACKENDS = ("local", "vault")
VAULT_AUTH = ("token", "approle")
MLOCK_MODES = ("try", "require", "off")


class Settings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """`[secrets]`: which store holds venue keys, how it is unlocked, and the rotation policy."""

    backend: str = "local"
    # local encrypted keystore (the embedded default)
    keystore_path: str = "var/secrets/keystore.json"
    passphrase_env: str = "OMS_KEYSTORE_PASSPHRASE"
    passphrase_file: str = ""  # used when the env variable is unset; must be mode 0600/0400
    scrypt_n: int = 2**15
    scrypt_r: int = 8
    scrypt_p: int = 1
    # Vault / OpenBao (KV v2)
    vault_url: str = "http://127.0.0.1:8200"
    vault_mount: str = "secret"
    vault_prefix: str = "exchanges"
    vault_auth: str = "token"
    vault_token_env: str = "VAULT_TOKEN"
    vault_token_file: str = ""
    vault_approle_mount: str = "approle"
    vault_role_id: str = ""
    vault_secret_id_env: str = "VAULT_SECRET_ID"
    vault_secret_id_file: str = ""
    vault_ca_cert: str = ""
    vault_timeout_s: float = 5.0
    vault_renew_fraction: float = 0.5  # renew the token once this fraction of its TTL is used
    # memory
    mlock: str = "try"
    mlockall: bool = False
    # rotation
    rotation_days: float = 30.0
    grace_s: float = 3600.0
    alert_before_days: float = 7.0
    auto_rotate: bool = True
    watch_interval_s: float = 1.0
    schedule_interval_s: float = 60.0
    # venues whose keys can be issued/revoked by API: exchange -> "package.module:factory", a callable
    # returning an object with `issue(name, previous_metadata)` and/or `revoke(name, credential)`
    # (oms.secrets.rotation.KeyIssuer / Revoker). Without one a key is rotated by a person (`oms keys
    # rotate`) after the alert, and the old key is deleted at the venue by a person after the grace.
    key_admins: dict[str, str] = {}
    audit_path: str = "var/audit/secrets.jsonl"
    audit_store: bool = False  # also append to the store room's hash-chained audit table (PostgreSQL)


def validate(s: Settings) -> list[tuple[str, object, str]]:
    bad: list[tuple[str, object, str]] = []
    if s.backend not in BACKENDS:
        bad.append(("backend", s.backend, f"must be one of {', '.join(BACKENDS)}"))
    if s.vault_auth not in VAULT_AUTH:
        bad.append(("vault_auth", s.vault_auth, f"must be one of {', '.join(VAULT_AUTH)}"))
    if s.mlock not in MLOCK_MODES:
        bad.append(("mlock", s.mlock, f"must be one of {', '.join(MLOCK_MODES)}"))
    if s.scrypt_n < 2**14 or s.scrypt_n & (s.scrypt_n - 1):
        bad.append(("scrypt_n", s.scrypt_n, "must be a power of two >= 16384"))
    if not 1 <= s.scrypt_r <= 64:
        bad.append(("scrypt_r", s.scrypt_r, "must be between 1 and 64"))
    if not 1 <= s.scrypt_p <= 16:
        bad.append(("scrypt_p", s.scrypt_p, "must be between 1 and 16"))
    if s.rotation_days <= 0:
        bad.append(("rotation_days", s.rotation_days, "must be > 0 (days between automatic rotations)"))
    if s.grace_s < 0:
        bad.append(("grace_s", s.grace_s, "must be >= 0 (seconds the old key stays valid)"))
    if not 0 <= s.alert_before_days < s.rotation_days:
        bad.append(("alert_before_days", s.alert_before_days, "must be >= 0 and < rotation_days"))
    if not 0 < s.vault_renew_fraction < 1:
        bad.append(("vault_renew_fraction", s.vault_renew_fraction, "must be between 0 and 1 (exclusive)"))
    for key in ("watch_interval_s", "schedule_interval_s", "vault_timeout_s"):
        if getattr(s, key) <= 0:
            bad.append((key, getattr(s, key), "must be > 0 seconds"))
    for ex, target in s.key_admins.items():
        mod, _, attr = target.partition(":")
        if not mod or not attr or " " in target:
            bad.append((f"key_admins.{ex}", target, 'must be "package.module:factory"'))
    if s.backend == "vault" and s.vault_auth == "approle" and not s.vault_role_id:
        bad.append(("vault_role_id", s.vault_role_id, 'must be set when vault_auth = "approle"'))
    if not s.vault_url.startswith(("http://", "https://")):
        bad.append(("vault_url", s.vault_url, "must start with http:// or https://"))
    return bad


def load_settings(config_path: str | os.PathLike[str] | None = None) -> Settings:
    """The `[secrets]` section, validated. Uses the config room's loader when present."""
    try:
        from oms.config import load  # type: ignore[attr-defined]
    except ImportError:
        load = None
    if load is not None:
        return load(config_path).section(SECTION)  # type: ignore[no-any-return]
    path = Path(config_path) if config_path else Path("configs/oms.toml")
    raw: dict[str, object] = {}
    if path.exists():
        try:
            raw = tomllib.loads(path.read_text()).get(SECTION, {})
        except tomllib.TOMLDecodeError as e:
            raise ConfigError(f"{path}: not valid TOML ({e})") from None
    elif config_path:
        raise ConfigError(f"config file {path} does not exist; pass an existing file with --config")
    try:
        s = msgspec.convert(raw, Settings)
    except msgspec.ValidationError as e:
        raise ConfigError(f"{path} [{SECTION}]: {e}") from None
    problems = validate(s)
    if problems:
        key, value, must = problems[0]
        raise ConfigError(f"{path} [{SECTION}] {key} = {value!r}: {must}")
    return s


def read_passphrase(s: Settings) -> LockedBuffer:
    """The keystore passphrase as a LockedBuffer: env `passphrase_env` first, else `passphrase_file`.

    The variable is removed from the environment as it is read (os.environ.pop also unsets it in the C
    environment), so no child program inherits it; read it once per process (open the store once)."""
    from oms.secrets.model import KeystoreLocked

    env = os.environ.pop(s.passphrase_env, None)
    if env:
        log.redact(env)
        return LockedBuffer.from_str(env, mode=s.mlock)
    if s.passphrase_file:
        p = Path(s.passphrase_file)
        try:
            st = p.stat()
        except FileNotFoundError:
            raise KeystoreLocked(
                f"[secrets] passphrase_file = {str(p)!r} does not exist; create it (mode 0600) or set "
                f"{s.passphrase_env}"
            ) from None
        if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise KeystoreLocked(
                f"[secrets] passphrase_file {str(p)!r} is readable by group/others (mode "
                f"{stat.S_IMODE(st.st_mode):o}); run `chmod 600 {p}`"
            )
        data = bytearray(p.read_bytes())
        while data and data[-1:] in (b"\n", b"\r"):
            data.pop()
        if not data:
            raise KeystoreLocked(
                f"[secrets] passphrase_file {str(p)!r} is empty; write the passphrase into it"
            )
        return LockedBuffer.from_bytes(data, mode=s.mlock)
    raise KeystoreLocked(
        f"no keystore passphrase: set the environment variable {s.passphrase_env} or [secrets] "
        "passphrase_file in configs/oms.toml"
    )
