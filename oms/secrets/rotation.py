"""Secrets room: key rotation without downtime, the automatic schedule, revocation after grace, alerts.

Touches the `KeyStore` it is given, the venue hooks it is given (`KeyIssuer` to create a key at the venue,
`Revoker` to revoke one) and the audit sink. The steps, each audited:

1. `rotate()`: the new key pair (given, or from the venue's issuer) is written as a new version with
   check-and-set on the current version, so two rotations never both win.
2. Every older, still-live version gets `revoke_after = now + grace`; it stays valid at the venue.
3. Holders (connectors) `watch()` the name and switch to the new version on their next poll; orders in
   flight on the old key still complete because the venue still accepts it.
4. `tick()` (the scheduler, or `oms keys check`) revokes versions whose grace ended through the venue's
   `Revoker`, marks them `revoked_at`, auto-rotates keys past `rotate_after` when an issuer exists, and
   raises alerts (log + hook) from `alert_before_days` before a rotation or a venue-side expiry is due.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from oms import log
from oms.errors import OmsError, Rejected
from oms.secrets.audit import AuditSink
from oms.secrets.locked import LockedBuffer
from oms.secrets.model import DAY, Credential, KeyMetadata, KeyStore, fingerprint, new_metadata, parse_name
from oms.secrets.settings import Settings

_log = log.get(__name__)


class Revoker(Protocol):
    def revoke(self, name: str, credential: Credential) -> None:
        """Make the venue refuse `credential.api_key` from now on; raise OmsError if it could not."""
        ...


class KeyIssuer(Protocol):
    def issue(self, name: str, previous: KeyMetadata) -> tuple[str, LockedBuffer]:
        """Create a new key pair at the venue with the same permissions/IP restrictions as `previous`."""
        ...


@dataclass
class CallableRevoker:
    """Revoke by calling `fn(api_key)` (e.g. the simulator's admin `revoke_api_key`)."""

    fn: Callable[[str], object]

    def revoke(self, name: str, credential: Credential) -> None:
        self.fn(credential.api_key)


@dataclass
class ManualRevoker:
    """For venues without a key-management API (Binance keys are deleted in the web UI): alert a person."""

    alert: Callable[[Alert], None]

    def revoke(self, name: str, credential: Credential) -> None:
        self.alert(
            Alert(
                name,
                credential.version,
                "revoke_manually",
                time.time(),
                f"delete API key {credential.fingerprint} ({name} v{credential.version}) at the venue now: "
                "its grace period ended",
            )
        )


@dataclass(frozen=True)
class Alert:
    name: str
    version: int
    kind: str  # rotation_soon | rotation_overdue | expiry_soon | expired | revoke_failed | revoke_manually
    due_at: float
    message: str


def log_alert(a: Alert) -> None:
    _log.warning("key alert [%s] %s v%d: %s", a.kind, a.name, a.version, a.message)


@dataclass(frozen=True)
class RotationResult:
    name: str
    old_version: int
    new_version: int
    revoke_after: float
    key_fingerprint: str


@dataclass
class Rotator:
    store: KeyStore
    audit: AuditSink
    settings: Settings = field(default_factory=Settings)
    revokers: dict[str, Revoker] = field(default_factory=dict)  # by key name or by exchange
    issuers: dict[str, KeyIssuer] = field(default_factory=dict)
    alert_hooks: list[Callable[[Alert], None]] = field(default_factory=lambda: [log_alert])
    clock: Callable[[], float] = time.time
    _alerted: set[tuple[str, int, str]] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _hook(self, table: dict[str, object], name: str) -> object | None:
        exchange, _ = parse_name(name)
        return table.get(name) or table.get(exchange)

    def alert(self, a: Alert) -> None:
        key = (a.name, a.version, a.kind)
        if key in self._alerted:
            return
        self._alerted.add(key)
        self.audit.record(
            "key.alert", a.name, version=a.version, kind=a.kind, due_at=a.due_at, message=a.message
        )
        for hook in self.alert_hooks:
            try:
                hook(a)
            except Exception as e:
                _log.error("alert hook failed: %s", type(e).__name__)

    # -- rotation --------------------------------------------------------------------------------------
    def rotate(
        self,
        name: str,
        api_key: str | None = None,
        secret: LockedBuffer | None = None,
        *,
        permissions: tuple[str, ...] | None = None,
        ip_restrictions: tuple[str, ...] | None = None,
        expires_at: float | None = None,
        grace_s: float | None = None,
        reason: str = "manual",
    ) -> RotationResult:
        with self._lock:
            current = self.store.get(name)
            prev = current.metadata
            old_version = current.version
            current.close()
            if api_key is None or secret is None:
                issuer = self._hook(self.issuers, name)  # type: ignore[arg-type]
                if issuer is None:
                    raise Rejected(
                        f"no key issuer for {name}: create the new key at the venue and give it to "
                        f"`oms keys rotate {name}` on stdin (api key, then secret)"
                    )
                api_key, secret = issuer.issue(name, prev)  # type: ignore[attr-defined]
            now = self.clock()
            meta = new_metadata(
                permissions=prev.permissions if permissions is None else permissions,
                ip_restrictions=prev.ip_restrictions if ip_restrictions is None else ip_restrictions,
                label=prev.label,
                rotation_days=self.settings.rotation_days,
                expires_at=expires_at or 0.0,
                now=now,
            )
            self.audit.record("key.rotate.start", name, old_version=old_version, reason=reason)
            try:
                version = self.store.put(name, api_key, secret, meta, cas=old_version)
            except OmsError as e:
                self.audit.record("key.rotate.failed", name, old_version=old_version, error=str(e))
                raise
            fp = fingerprint(api_key)
            self.audit.record(
                "key.rotate.written", name, old_version=old_version, new_version=version, key=fp
            )
            grace = self.settings.grace_s if grace_s is None else grace_s
            revoke_after = now + grace
            for vi in self.store.versions(name):
                if vi.version < version and not vi.metadata.revoked_at and not vi.metadata.revoke_after:
                    self.store.update_state(name, vi.version, revoke_after=revoke_after)
                    self.audit.record("key.grace", name, version=vi.version, revoke_after=revoke_after)
            _log.info(
                "key %s rotated: v%d -> v%d (key %s), old valid for %.0fs",
                name,
                old_version,
                version,
                fp,
                grace,
            )
            return RotationResult(name, old_version, version, revoke_after, fp)

    # -- schedule --------------------------------------------------------------------------------------
    def revoke_due(self) -> list[tuple[str, int]]:
        """Revoke every superseded version whose grace period ended. Returns (name, version) revoked."""
        done = []
        now = self.clock()
        for name in self.store.names():
            for vi in self.store.versions(name):
                m = vi.metadata
                if m.revoked_at or not m.revoke_after or m.revoke_after > now:
                    continue
                revoker = self._hook(self.revokers, name)  # type: ignore[arg-type]
                if revoker is None:
                    revoker = ManualRevoker(self.alert)
                cred = self.store.get(name, vi.version)
                try:
                    revoker.revoke(name, cred)  # type: ignore[attr-defined]
                except Exception as e:  # retried on the next tick
                    msg = f"revoking {cred.fingerprint} failed ({type(e).__name__}: {e}); will retry"
                    self.audit.record("key.revoke.failed", name, version=vi.version, error=msg)
                    self.alert(Alert(name, vi.version, "revoke_failed", m.revoke_after, msg))
                    continue
                finally:
                    cred.close()
                self.store.update_state(name, vi.version, revoked_at=self.clock())
                kind = "manual" if isinstance(revoker, ManualRevoker) else type(revoker).__name__
                self.audit.record("key.revoked", name, version=vi.version, key=vi.key_fingerprint, via=kind)
                done.append((name, vi.version))
        return done

    def check_due(self) -> list[Alert]:
        """Alerts for rotations/expiries coming up or overdue; auto-rotates overdue keys with an issuer."""
        out: list[Alert] = []
        now = self.clock()
        before = self.settings.alert_before_days * DAY
        for name in self.store.names():
            vs = self.store.versions(name)
            if not vs:
                continue
            cur = vs[-1]
            m = cur.metadata
            if m.rotate_after and now >= m.rotate_after:
                if self.settings.auto_rotate and self._hook(self.issuers, name) is not None:  # type: ignore[arg-type]
                    self.rotate(name, reason="schedule")
                    continue
                out.append(
                    Alert(
                        name,
                        cur.version,
                        "rotation_overdue",
                        m.rotate_after,
                        f"rotation was due {(now - m.rotate_after) / DAY:.1f} days ago; "
                        f"run `oms keys rotate {name}`",
                    )
                )
            elif m.rotate_after and now >= m.rotate_after - before:
                out.append(
                    Alert(
                        name,
                        cur.version,
                        "rotation_soon",
                        m.rotate_after,
                        f"rotation due in {(m.rotate_after - now) / DAY:.1f} days",
                    )
                )
            if m.expires_at and now >= m.expires_at:
                out.append(
                    Alert(name, cur.version, "expired", m.expires_at, "the venue-side key has expired")
                )
            elif m.expires_at and now >= m.expires_at - before:
                out.append(
                    Alert(
                        name,
                        cur.version,
                        "expiry_soon",
                        m.expires_at,
                        f"the venue-side key expires in {(m.expires_at - now) / DAY:.1f} days",
                    )
                )
        for a in out:
            self.alert(a)
        return out

    def adopt_new_versions(self) -> list[tuple[str, int]]:
        """A version stored outside `rotate()` (`oms keys add`, a Vault write) is the switch: holders
        already use it; here every older live version gets its grace period, audited. Returns
        (name, version) of the versions that got one."""
        done = []
        now = self.clock()
        with self._lock:
            for name in self.store.names():
                vs = self.store.versions(name)
                if len(vs) < 2:
                    continue
                newest = vs[-1]
                for vi in vs[:-1]:
                    m = vi.metadata
                    if m.revoked_at or m.revoke_after:
                        continue
                    revoke_after = max(now, newest.metadata.created_at or now) + self.settings.grace_s
                    self.store.update_state(name, vi.version, revoke_after=revoke_after)
                    self.audit.record(
                        "key.rotate.detected", name, old_version=vi.version, new_version=newest.version,
                        key=newest.key_fingerprint, revoke_after=revoke_after,
                    )  # fmt: skip
                    _log.info("key %s: v%d stored; v%d valid until its grace ends", name, newest.version,
                              vi.version)  # fmt: skip
                    done.append((name, vi.version))
        return done

    def tick(self) -> tuple[list[Alert], list[tuple[str, int]]]:
        """One pass of the schedule: adopt versions stored by hand, alert/auto-rotate what is due, revoke
        what is past its grace."""
        self.adopt_new_versions()
        return self.check_due(), self.revoke_due()


@dataclass
class RotationScheduler:
    """Runs `rotator.tick()` every `interval` seconds on a daemon thread until `stop()`."""

    rotator: Rotator
    interval: float = 60.0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    ticks: int = 0

    def start(self) -> RotationScheduler:
        self._thread = threading.Thread(target=self._run, name="oms-secrets-rotation", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while True:  # the first tick at once: a rotation already due is not left waiting an interval
            try:
                self.rotator.tick()
            except OmsError as e:
                _log.error("rotation tick failed: %s", e)
            except Exception as e:  # the schedule outlives one bad pass (a store or venue hiccup)
                _log.error("rotation tick failed: %s: %s", type(e).__name__, e)
            self.ticks += 1
            if self._stop.wait(self.interval):
                return

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
