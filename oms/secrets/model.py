"""Secrets room: the shapes every key store shares (names, metadata, versions, `Credential`, `KeyStore`).

Touches nothing outside this room. A key is named `{exchange}_{market}` (e.g. `binance_spot`,
`binance_usdm`); each name holds numbered versions. A version's payload (API key + secret) is secret; its
metadata (permissions, IP restrictions, created/rotate/expiry times) is not, and is what `oms keys list`
and `show-meta` print. Version state (`revoke_after`, `revoked_at`) changes during rotation.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable
from typing import Protocol, runtime_checkable

import msgspec

from oms.errors import OmsError, Rejected
from oms.ids import MARKETS, VENUES
from oms.secrets.locked import LockedBuffer

_NAME = re.compile(r"^([a-z][a-z0-9]*)_([a-z][a-z0-9]*)$")
DAY = 86400.0


class SecretError(OmsError):
    """Base of the secrets room's errors; messages never contain secret material."""


class KeyNotFound(SecretError, Rejected):
    """No such key name or version in the store."""


class KeystoreLocked(SecretError, Rejected):
    """The store cannot be opened: no passphrase, wrong passphrase, or no/invalid Vault credentials."""


class KeystoreCorrupt(SecretError, Rejected):
    """The keystore file or a record failed its integrity check (tampered, truncated, wrong name)."""


class SecretAccessDenied(SecretError, Rejected):
    """The backend refused access to a path (Vault 403)."""


class VersionConflict(SecretError, Rejected):
    """A write lost a check-and-set race: someone else wrote a newer version first."""


def parse_name(name: str) -> tuple[str, str]:
    """Split `binance_spot` into ("binance", "spot"); raise a clear `Rejected` for anything else."""
    m = _NAME.match(name or "")
    if not m:
        raise Rejected(
            f"key name {name!r} is not of the form <exchange>_<market> (lower case, e.g. binance_spot)"
        )
    exchange, market = m.groups()
    if exchange not in VENUES:
        raise Rejected(
            f"key name {name!r}: unknown exchange {exchange!r}; known: {', '.join(sorted(VENUES))}"
        )
    if market not in MARKETS and market != "futures":
        known = ", ".join([*sorted(MARKETS), "futures"])
        raise Rejected(f"key name {name!r}: unknown market {market!r}; known: {known}")
    return exchange, market


class KeyMetadata(msgspec.Struct, kw_only=True, frozen=True):
    """Non-secret facts about one version of a key. Times are Unix seconds (UTC)."""

    permissions: tuple[str, ...] = ()
    ip_restrictions: tuple[str, ...] = ()
    label: str = ""
    created_at: float = 0.0
    rotate_after: float = 0.0  # when the schedule wants a new version (created_at + rotation_days)
    expires_at: float = 0.0  # venue-side expiry of the key, 0 = none
    revoke_after: float = 0.0  # set when superseded: end of the grace period
    revoked_at: float = 0.0


class VersionInfo(msgspec.Struct, kw_only=True, frozen=True):
    """What `list` may show about one version: never the secret, only a fingerprint of the API key."""

    name: str
    version: int
    key_fingerprint: str
    metadata: KeyMetadata

    @property
    def state(self) -> str:
        m = self.metadata
        if m.revoked_at:
            return "revoked"
        if m.revoke_after:
            return "grace"
        return "active"


def fingerprint(api_key: str) -> str:
    """A short, non-reversible tag for an API key (safe to log and audit)."""
    return "sha256:" + hashlib.sha256(api_key.encode()).hexdigest()[:12]


class Credential:
    """One version of a venue key: `api_key` (str), `secret` (a `LockedBuffer`), `version`, `metadata`.

    repr/str show the name, version and key fingerprint only. `close()` zeroises the secret.
    """

    __slots__ = ("api_key", "metadata", "name", "secret", "version")

    def __init__(
        self, name: str, api_key: str, secret: LockedBuffer, version: int, metadata: KeyMetadata
    ) -> None:
        self.name = name
        self.api_key = api_key
        self.secret = secret
        self.version = version
        self.metadata = metadata

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.api_key)

    def close(self) -> None:
        self.secret.close()

    def __enter__(self) -> Credential:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Credential {self.name} v{self.version} key {self.fingerprint}, secret hidden>"

    __str__ = __repr__

    def __reduce__(self) -> object:
        raise TypeError("Credential refuses to be pickled (it holds a secret)")


WatchCallback = Callable[[Credential], None]


class Watch(Protocol):
    def stop(self) -> None: ...


@runtime_checkable
class KeyStore(Protocol):
    """What both stores (local file, Vault) offer. Names are `{exchange}_{market}`."""

    def get(self, name: str, version: int | None = None) -> Credential:
        """The current (or the given) version; raises KeyNotFound / KeystoreCorrupt / SecretAccessDenied."""
        ...

    def put(
        self,
        name: str,
        api_key: str,
        secret: LockedBuffer,
        metadata: KeyMetadata,
        *,
        cas: int | None = None,
    ) -> int:
        """Write a new version and return its number. `cas`: expected current version (0 = must not exist)."""
        ...

    def current_version(self, name: str) -> int:
        """The newest version number (0 if the name does not exist). Cheap: used by `watch` polling."""
        ...

    def versions(self, name: str) -> list[VersionInfo]: ...

    def names(self) -> list[str]: ...

    def update_state(
        self, name: str, version: int, *, revoke_after: float | None = None, revoked_at: float | None = None
    ) -> None:
        """Record rotation state (grace end, revocation time) on an existing version."""
        ...

    def watch(self, name: str, callback: WatchCallback, *, interval: float | None = None) -> Watch:
        """Call `callback(new_credential)` whenever a newer version appears (polling the version)."""
        ...

    def close(self) -> None: ...


def new_metadata(
    *,
    permissions: tuple[str, ...] = (),
    ip_restrictions: tuple[str, ...] = (),
    label: str = "",
    rotation_days: float,
    expires_at: float = 0.0,
    now: float | None = None,
) -> KeyMetadata:
    t = time.time() if now is None else now
    return KeyMetadata(
        permissions=tuple(permissions),
        ip_restrictions=tuple(ip_restrictions),
        label=label,
        created_at=t,
        rotate_after=t + rotation_days * DAY,
        expires_at=expires_at,
    )
