"""Secrets room: the 30-day rotation schedule as a service inside the stack (the `keys` program's logic).

Touches the key store and audit sink `[secrets]` names, the venues' key-management hooks
(`[secrets] key_admins`, loaded here by "module:factory"), and the monitor's NATS subject
(`<monitor.stats_subject>.keys`) for alerts. Every `schedule_interval_s` (and once at start) it runs
`Rotator.tick()`:

- a version stored by hand (`oms keys rotate` / `oms keys add` / a Vault write) is adopted: holders
  (connectors) have already switched to it through their watch, the older versions get their grace;
- a rotation due within `alert_before_days` or overdue raises an alert; an overdue key whose venue has an
  issuer (`key_admins`) is rotated at once (`reason=schedule`), and that is announced too;
- a superseded version past its grace is revoked through the venue's revoker, or — for venues without a
  key API (Binance) — a person is told to delete it at the venue.

Each step is audited by the Rotator; each alert goes to the log and, as a `StatsFrame.alerts` entry, to
the monitor, which posts it to the Slack/Discord webhooks of `[monitor]`.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from oms import log
from oms.errors import ConfigError
from oms.secrets.audit import AuditSink
from oms.secrets.model import KeyStore
from oms.secrets.rotation import Alert, Rotator, log_alert
from oms.secrets.settings import Settings

_log = log.get(__name__)


def load_key_admins(settings: Settings) -> tuple[dict[str, Any], dict[str, Any]]:
    """(issuers, revokers) by exchange from `[secrets] key_admins` ("module:factory" each)."""
    issuers: dict[str, Any] = {}
    revokers: dict[str, Any] = {}
    for exchange, target in settings.key_admins.items():
        mod_name, _, attr = target.partition(":")
        try:
            factory = getattr(importlib.import_module(mod_name), attr)
        except (ImportError, AttributeError) as e:
            raise ConfigError(
                f"[secrets] key_admins.{exchange} = {target!r}: cannot load it ({e}); give an importable "
                '"package.module:factory"'
            ) from None
        admin = factory()
        if hasattr(admin, "issue"):
            issuers[exchange] = admin
        if hasattr(admin, "revoke"):
            revokers[exchange] = admin
        if exchange not in issuers and exchange not in revokers:
            raise ConfigError(f"[secrets] key_admins.{exchange}: {target} has neither issue() nor revoke()")
    return issuers, revokers


@dataclass
class KeySchedule:
    """`run()` ticks the rotator every `interval_s` and forwards its alerts to `publish(alerts)`."""

    store: KeyStore
    audit: AuditSink
    settings: Settings
    publish: Callable[[list[Alert]], Any] | None = None  # async or sync; gets each tick's new alerts
    interval_s: float = 0.0  # 0 = settings.schedule_interval_s
    clock: Callable[[], float] = time.time
    ticks: int = 0
    rotator: Rotator = field(init=False)
    _new: list[Alert] = field(default_factory=list)
    _stop: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        issuers, revokers = load_key_admins(self.settings)
        self.rotator = Rotator(self.store, self.audit, self.settings, revokers=revokers, issuers=issuers,
                               alert_hooks=[log_alert, self._new.append], clock=self.clock)  # fmt: skip
        self.interval_s = self.interval_s or self.settings.schedule_interval_s

    def tick(self) -> list[Alert]:
        """One pass (thread-safe to call from a worker thread); the alerts it raised, rotations included."""
        before = {n: self.store.current_version(n) for n in self.store.names()}
        self.rotator.tick()
        now = self.clock()
        for name in self.store.names():
            v = self.store.current_version(name)
            if before.get(name, 0) and v > before[name]:
                msg = f"{name} rotated v{before[name]} -> v{v}; connectors switch on their next key poll"
                self.audit.record("key.schedule.rotated", name, old_version=before[name], new_version=v)
                self.rotator.alert(Alert(name, v, "key_rotated", now, msg))
        self.ticks += 1
        out, self._new[:] = list(self._new), []
        return out

    async def run(self) -> None:
        self.audit.record(
            "key.schedule.start", "*", interval_s=self.interval_s, names=len(self.store.names())
        )
        while not self._stop.is_set():
            try:
                alerts = await asyncio.to_thread(self.tick)
            except Exception as e:  # a store or venue hiccup: logged, the next tick tries again
                _log.error("key schedule tick failed: %s: %s", type(e).__name__, e)
                alerts = []
            if alerts and self.publish is not None:
                try:
                    got = self.publish(alerts)
                    if asyncio.iscoroutine(got):
                        await got
                except Exception as e:
                    _log.error("key alerts could not reach the monitor: %s: %s", type(e).__name__, e)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self.interval_s)

    def stop(self) -> None:
        self._stop.set()
