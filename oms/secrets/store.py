"""Secrets room: build the configured `KeyStore` (local encrypted file or Vault) from `[secrets]`.

Touches the environment variables and files named in the settings (passphrase, token, secret id), read
once and never logged; optionally `mlockall` for the whole process when `secrets.mlockall = true`.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from oms.secrets.local import LocalKeyStore
from oms.secrets.locked import lock_all_memory
from oms.secrets.model import KeyStore, KeystoreLocked
from oms.secrets.settings import Settings, read_passphrase
from oms.secrets.vault import VaultKeyStore


def _env_or_file(env: str, path: str, what: str) -> str | None:
    value = os.environ.get(env)
    if value:
        return value.strip()
    if path:
        p = Path(path)
        try:
            st = p.stat()
        except FileNotFoundError:
            raise KeystoreLocked(
                f"[secrets] {what} file {path!r} does not exist; create it (mode 0600)"
            ) from None
        if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise KeystoreLocked(
                f"[secrets] {what} file {path!r} is readable by group/others; `chmod 600 {p}`"
            )
        return p.read_text().strip() or None
    return None


def open_store(s: Settings, *, base_dir: str | os.PathLike[str] | None = None) -> KeyStore:
    """The store `[secrets] backend` names. Relative paths resolve against `base_dir` (default: cwd)."""
    if s.mlockall:
        lock_all_memory()
    if s.backend == "vault":
        verify: bool | str = s.vault_ca_cert or True
        common = dict(
            mount=s.vault_mount,
            prefix=s.vault_prefix,
            verify=verify,
            timeout=s.vault_timeout_s,
            renew_fraction=s.vault_renew_fraction,
            watch_interval=s.watch_interval_s,
            mlock=s.mlock,
        )
        if s.vault_auth == "approle":
            secret_id = _env_or_file(s.vault_secret_id_env, s.vault_secret_id_file, "vault_secret_id")
            if not secret_id:
                raise KeystoreLocked(
                    f'vault_auth = "approle" needs a secret id: set {s.vault_secret_id_env} or '
                    "[secrets] vault_secret_id_file"
                )
            return VaultKeyStore(
                s.vault_url,
                role_id=s.vault_role_id,
                secret_id=secret_id,
                approle_mount=s.vault_approle_mount,
                **common,
            )  # type: ignore[arg-type]
        token = _env_or_file(s.vault_token_env, s.vault_token_file, "vault_token")
        if not token:
            raise KeystoreLocked(
                f'vault_auth = "token" needs a token: set {s.vault_token_env} or [secrets] vault_token_file'
            )
        return VaultKeyStore(s.vault_url, token=token, **common)  # type: ignore[arg-type]
    path = Path(s.keystore_path)
    if not path.is_absolute() and base_dir is not None:
        path = Path(base_dir) / path
    return LocalKeyStore(
        path,
        read_passphrase(s),
        scrypt_n=s.scrypt_n,
        scrypt_r=s.scrypt_r,
        scrypt_p=s.scrypt_p,
        watch_interval=s.watch_interval_s,
    )
