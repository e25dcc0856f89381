"""Secrets room: `VaultKeyStore`, venue keys in HashiCorp Vault / OpenBao KV v2 (through hvac).

Touches only the Vault server it is given, under `<mount>/<prefix>/{exchange}_{market}` (default
`secret/exchanges/binance_spot`). Each version's data is the seed's layout: `{name}_api_key`,
`{name}_secret_key` (e.g. `binance_spot_api_key`, `binance_futures_secret_key`) and beside them `meta`
(the JSON of the immutable `KeyMetadata` fields; optional, so a key written by hand is read as it is).
The older `{"api_key", "secret"}` fields are still read, with a warning naming the path (one release of
overlap; `oms keys rotate` or `add --new-version` rewrites them). Rotation state (grace end, revocation
time) lives in the path's `custom_metadata` as `v<N>.revoke_after` / `v<N>.revoked_at`, because KV v2
versions are immutable.

Auth: a token (env/file) or AppRole (role_id + secret_id). KV v2 issues no leases; the lease that applies
is the token's own: before each call the store renews a renewable token once `renew_fraction` of its TTL
is used, and an AppRole store logs in again when the token reached its max TTL or was revoked.

hvac hands the secret back inside a JSON-decoded dict (a Python `str`); it is copied into a `LockedBuffer`
at once and the dict dropped — that transient copy is the limit of what Python can protect. Errors never
include the response body's secret fields.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import hvac
import hvac.exceptions as hx
import msgspec
import requests

from oms import log
from oms.errors import Transient
from oms.secrets.locked import LockedBuffer
from oms.secrets.model import (
    Credential,
    KeyMetadata,
    KeyNotFound,
    KeystoreLocked,
    SecretAccessDenied,
    SecretError,
    VersionConflict,
    VersionInfo,
    Watch,
    WatchCallback,
    fingerprint,
    parse_name,
)
from oms.secrets.watch import VersionPoller

_log = log.get(__name__)
_STATE_FIELDS = ("revoke_after", "revoked_at")
_KEEP_STATE_VERSIONS = 20


def field_names(name: str) -> tuple[str, str]:
    """The seed's field names for key `name`: (`{name}_api_key`, `{name}_secret_key`)."""
    return f"{name}_api_key", f"{name}_secret_key"


def _pair(name: str, data: dict[str, Any]) -> tuple[str, str, bool] | None:
    """(api_key, secret, legacy) from a version's data; None when neither layout is there."""
    k, s = field_names(name)
    if data.get(k) and data.get(s):
        return str(data[k]), str(data[s]), False
    if data.get("api_key") and data.get("secret"):
        return str(data["api_key"]), str(data["secret"]), True
    return None


class VaultKeyStore:
    """The Vault/OpenBao `KeyStore`. Build it with `token=` or `role_id=` + `secret_id=`."""

    def __init__(
        self,
        url: str,
        *,
        token: str | None = None,
        role_id: str | None = None,
        secret_id: str | None = None,
        approle_mount: str = "approle",
        mount: str = "secret",
        prefix: str = "exchanges",
        verify: bool | str = True,
        timeout: float = 5.0,
        renew_fraction: float = 0.5,
        watch_interval: float = 1.0,
        mlock: str = "try",
    ) -> None:
        if not token and not role_id:
            raise KeystoreLocked(
                f'no Vault credentials for {url}: set [secrets] vault_auth = "token" with the token in '
                'VAULT_TOKEN (or vault_token_file), or vault_auth = "approle" with vault_role_id and the '
                "secret id in VAULT_SECRET_ID (or vault_secret_id_file)"
            )
        self.url = url
        self.mount = mount
        self.prefix = prefix.strip("/")
        self._mlock = mlock
        self._role = (role_id, secret_id, approle_mount) if role_id else None
        self._renew_fraction = renew_fraction
        self._lock = threading.RLock()
        self._client = hvac.Client(url=url, token=token, verify=verify, timeout=timeout)
        self._token_ttl = 0.0  # seconds granted at login/renewal; 0 = no expiry (root) or unknown
        self._token_deadline = 0.0  # monotonic time the token expires
        self._renewable = False
        self.renewals = 0
        self.logins = 0
        self._warned: set[tuple[str, int]] = set()  # (path, version) already warned about old field names
        if self._role:
            self._login()
        else:
            if token:
                log.redact(token)
            self._lookup()
        self._poller = VersionPoller(self.current_version, self.get, watch_interval)

    # -- token life cycle --------------------------------------------------------------------------
    def _set_lease(self, ttl: float, renewable: bool) -> None:
        self._token_ttl = float(ttl)
        self._renewable = bool(renewable)
        self._token_deadline = time.monotonic() + ttl if ttl else 0.0

    def _login(self) -> None:
        assert self._role is not None
        role_id, secret_id, mount = self._role
        try:
            resp = self._client.auth.approle.login(role_id=role_id, secret_id=secret_id, mount_point=mount)
        except (hx.InvalidRequest, hx.Forbidden, hx.Unauthorized):
            raise KeystoreLocked(
                f"AppRole login at {self.url} (auth/{mount}) refused: role_id or secret_id is wrong or the "
                "secret id expired; issue a new secret id and set it in VAULT_SECRET_ID/vault_secret_id_file"
            ) from None
        except requests.RequestException as e:
            raise Transient(
                f"Vault {self.url} unreachable during AppRole login ({type(e).__name__})"
            ) from None
        auth = resp["auth"]
        log.redact(auth["client_token"])
        self._set_lease(auth.get("lease_duration") or 0, auth.get("renewable", False))
        self.logins += 1
        _log.info("vault: AppRole login ok (token ttl %ss, renewable %s)", self._token_ttl, self._renewable)

    def _lookup(self) -> None:
        try:
            data = self._client.auth.token.lookup_self()["data"]
        except (hx.Forbidden, hx.Unauthorized):
            raise KeystoreLocked(
                f"the Vault token was refused by {self.url} (expired, revoked or wrong); set a valid "
                "token in VAULT_TOKEN or [secrets] vault_token_file"
            ) from None
        except requests.RequestException as e:
            raise Transient(f"Vault {self.url} unreachable ({type(e).__name__}); is it running?") from None
        self._set_lease(data.get("ttl") or 0, data.get("renewable", False))

    def _token_valid(self) -> bool:
        try:
            self._client.auth.token.lookup_self()
            return True
        except (hx.VaultError, requests.RequestException):
            return False

    def _ensure_token(self) -> None:
        """Renew or re-login before the token runs out (called before every request)."""
        if not self._token_deadline:
            return
        left = self._token_deadline - time.monotonic()
        if left > self._token_ttl * (1 - self._renew_fraction):
            return
        if self._renewable:
            try:
                auth = self._client.auth.token.renew_self()["auth"]
                granted = auth.get("lease_duration") or 0
                # a token that hit its max TTL renews for less than asked: log in again when it ends
                if granted > 1 or not self._role:
                    self._set_lease(granted, auth.get("renewable", False))
                    self.renewals += 1
                    _log.debug("vault: token renewed for %ss", granted)
                    return
            except (hx.VaultError, requests.RequestException) as e:  # e.g. 500 "past the max TTL"
                _log.debug("vault: token renewal refused (%s)", type(e).__name__)
        if self._role:
            self._login()
        elif left <= 0:
            raise KeystoreLocked(
                f"the Vault token for {self.url} expired and is not renewable; supply a new one"
            )

    def _call(self, what: str, path: str, fn: Any, **kw: Any) -> Any:
        with self._lock:
            self._ensure_token()
            for attempt in (0, 1):
                try:
                    return fn(path=path, mount_point=self.mount, **kw)
                except hx.Forbidden:
                    if attempt == 0 and self._role and not self._token_valid():
                        self._login()  # the token expired or was revoked under us: log in once more
                        continue
                    raise SecretAccessDenied(
                        f"Vault denied {what} on {self.mount}/{path} at {self.url}: permission denied "
                        f'for this token. Grant a policy with path "{self.mount}/data/{path}" (and '
                        f'"{self.mount}/metadata/{path}") or use a token that has one'
                    ) from None
                except hx.InvalidPath:
                    raise KeyNotFound(
                        f"no secret at {self.mount}/{path} in Vault {self.url}; add it with `oms keys add`"
                    ) from None
                except hx.InvalidRequest as e:
                    if "check-and-set" in str(e):
                        raise VersionConflict(
                            f"{self.mount}/{path}: the version changed since it was read (check-and-set "
                            "failed); someone rotated it meanwhile — re-read and retry"
                        ) from None
                    raise SecretError(f"Vault rejected {what} on {self.mount}/{path}: {e}") from None
                except (hx.VaultDown, hx.InternalServerError, hx.BadGateway, requests.RequestException) as e:
                    raise Transient(
                        f"Vault {self.url} unavailable during {what} ({type(e).__name__})"
                    ) from None
            raise AssertionError("unreachable")

    def _path(self, name: str) -> str:
        parse_name(name)
        return f"{self.prefix}/{name}"

    def _metadata(self, name: str) -> dict[str, Any]:
        return self._call("metadata read", self._path(name), self._client.secrets.kv.v2.read_secret_metadata)[
            "data"
        ]

    # -- KeyStore ---------------------------------------------------------------------------------------
    def get(self, name: str, version: int | None = None) -> Credential:
        path = self._path(name)
        resp = self._call(
            "read",
            path,
            self._client.secrets.kv.v2.read_secret_version,
            version=version,
            raise_on_deleted_version=True,
        )
        data = resp["data"]["data"]
        ver = int(resp["data"]["metadata"]["version"])
        k_field, s_field = field_names(name)
        try:
            pair = _pair(name, data)
            if pair is None:
                raise KeyError(k_field)
            api_key, secret_text, legacy = pair
            secret = LockedBuffer.from_str(secret_text, mode=self._mlock)
            meta = msgspec.convert(json.loads(data.get("meta") or "{}"), KeyMetadata)
        except (KeyError, ValueError, msgspec.ValidationError):
            raise SecretError(
                f"{self.mount}/{path} v{ver} is not an oms key: it needs the fields {k_field} and "
                f"{s_field} (and optionally meta); write it with `oms keys add {name}`"
            ) from None
        finally:
            data.clear()
            resp.clear()
        if legacy and (path, ver) not in self._warned:
            self._warned.add((path, ver))
            _log.warning(
                "%s/%s v%d uses the old field names api_key/secret; they are read for one more release. "
                "Rewrite it as %s/%s with `oms keys rotate %s` (or `oms keys add %s --new-version`)",
                self.mount,
                path,
                ver,
                k_field,
                s_field,
                name,
                name,
            )
        log.redact(api_key)
        meta = self._with_state(name, ver, meta)
        return Credential(name, api_key, secret, ver, meta)

    def _with_state(self, name: str, version: int, meta: KeyMetadata) -> KeyMetadata:
        try:
            custom = self._metadata(name).get("custom_metadata") or {}
        except SecretAccessDenied:
            return meta
        changes = {f: float(custom[f"v{version}.{f}"]) for f in _STATE_FIELDS if f"v{version}.{f}" in custom}
        return msgspec.structs.replace(meta, **changes) if changes else meta

    def put(
        self, name: str, api_key: str, secret: LockedBuffer, metadata: KeyMetadata, *, cas: int | None = None
    ) -> int:
        path = self._path(name)
        immutable = msgspec.structs.replace(metadata, revoke_after=0.0, revoked_at=0.0)
        k_field, s_field = field_names(name)
        payload = {
            k_field: api_key,
            s_field: secret.reveal(),
            "meta": msgspec.json.encode(immutable).decode(),
        }
        try:
            resp = self._call(
                "write", path, self._client.secrets.kv.v2.create_or_update_secret, secret=payload, cas=cas
            )
        finally:
            payload.clear()
        version = int(resp["data"]["version"])
        _log.info("key %s: version %d written to vault (key %s)", name, version, fingerprint(api_key))
        return version

    def current_version(self, name: str) -> int:
        try:
            return int(self._metadata(name).get("current_version") or 0)
        except KeyNotFound:
            return 0

    def versions(self, name: str) -> list[VersionInfo]:
        md = self._metadata(name)
        out = []
        for v in sorted(int(k) for k, info in md.get("versions", {}).items() if not info.get("destroyed")):
            if md["versions"][str(v)].get("deletion_time"):
                continue
            cred = self.get(name, v)
            out.append(
                VersionInfo(name=name, version=v, key_fingerprint=cred.fingerprint, metadata=cred.metadata)
            )
            cred.close()
        return out

    def names(self) -> list[str]:
        try:
            resp = self._call("list", self.prefix, self._client.secrets.kv.v2.list_secrets)
        except KeyNotFound:
            return []
        return sorted(k for k in resp["data"]["keys"] if not k.endswith("/"))

    def update_state(
        self, name: str, version: int, *, revoke_after: float | None = None, revoked_at: float | None = None
    ) -> None:
        path = self._path(name)
        with self._lock:
            custom = dict(self._metadata(name).get("custom_metadata") or {})
            for f, value in (("revoke_after", revoke_after), ("revoked_at", revoked_at)):
                if value is not None:
                    custom[f"v{version}.{f}"] = repr(float(value))
            old = sorted({int(k.split(".")[0][1:]) for k in custom})[:-_KEEP_STATE_VERSIONS]
            custom = {k: v for k, v in custom.items() if int(k.split(".")[0][1:]) not in old}
            self._call(
                "metadata write", path, self._client.secrets.kv.v2.update_metadata, custom_metadata=custom
            )

    def watch(self, name: str, callback: WatchCallback, *, interval: float | None = None) -> Watch:
        return self._poller.add(name, callback, interval)

    def close(self) -> None:
        self._poller.stop()
        self._client.adapter.close()

    def __repr__(self) -> str:
        return f"<VaultKeyStore {self.url} {self.mount}/{self.prefix}>"
