"""Secrets room: venue API keys in Vault (hvac, KV v2) or an AES-256-GCM local keystore, held in locked
memory, rotated on a schedule without dropping an order.

Touches only the keystore file / Vault paths named in `[secrets]`, its audit file, and the venue hooks it
is given. Public face: `KeyStore`, `Credential`, `LockedBuffer`, `LocalKeyStore`, `VaultKeyStore`,
`open_store`, `Rotator`, `RotationScheduler`, `ClientHolder`. See docs/secrets.md.
"""

from __future__ import annotations

from oms.secrets.holder import ClientHolder
from oms.secrets.local import LocalKeyStore
from oms.secrets.locked import LockedBuffer, lock_all_memory
from oms.secrets.model import (
    Credential,
    KeyMetadata,
    KeyNotFound,
    KeyStore,
    KeystoreCorrupt,
    KeystoreLocked,
    SecretAccessDenied,
    SecretError,
    VersionConflict,
    VersionInfo,
)
from oms.secrets.rotation import Alert, CallableRevoker, KeyIssuer, Revoker, RotationScheduler, Rotator
from oms.secrets.store import open_store
from oms.secrets.vault import VaultKeyStore

__all__ = [
    "Alert",
    "CallableRevoker",
    "ClientHolder",
    "Credential",
    "KeyIssuer",
    "KeyMetadata",
    "KeyNotFound",
    "KeyStore",
    "KeystoreCorrupt",
    "KeystoreLocked",
    "LocalKeyStore",
    "LockedBuffer",
    "Revoker",
    "RotationScheduler",
    "Rotator",
    "SecretAccessDenied",
    "SecretError",
    "VaultKeyStore",
    "VersionConflict",
    "VersionInfo",
    "lock_all_memory",
    "open_store",
]
