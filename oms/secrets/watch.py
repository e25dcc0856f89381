"""Secrets room: hot reload. `VersionPoller` polls a store's version numbers and hands new credentials over.

Touches only the store it is given (read calls) and a daemon thread of its own. One poller per store
serves every `watch(name, callback)`; a callback gets the new `Credential` (it owns it from then on) and an
exception in a callback is logged (without secret material) and does not stop the poller.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from oms import log
from oms.secrets.model import Credential, SecretError, WatchCallback

_log = log.get(__name__)


@dataclass
class _Entry:
    name: str
    callback: WatchCallback
    version: int
    poller: VersionPoller
    stopped: bool = False

    def stop(self) -> None:
        self.poller._remove(self)


@dataclass
class VersionPoller:
    """Poll `current_version(name)` every `interval` seconds; on change fetch with `get(name)`."""

    current_version: Callable[[str], int]
    get: Callable[[str], Credential]
    interval: float = 1.0
    _entries: list[_Entry] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def add(self, name: str, callback: WatchCallback, interval: float | None = None) -> _Entry:
        if interval is not None:
            self.interval = min(self.interval, interval)
        entry = _Entry(name, callback, self.current_version(name), self)
        with self._lock:
            self._entries.append(entry)
            if self._thread is None or not self._thread.is_alive():
                self._stop.clear()
                self._thread = threading.Thread(target=self._run, name="oms-secrets-watch", daemon=True)
                self._thread.start()
        return entry

    def _remove(self, entry: _Entry) -> None:
        with self._lock:
            entry.stopped = True
            if entry in self._entries:
                self._entries.remove(entry)

    def poll_once(self) -> int:
        """Check every watched name once; returns how many callbacks ran."""
        with self._lock:
            entries = list(self._entries)
        fired = 0
        for e in entries:
            try:
                v = self.current_version(e.name)
            except SecretError as exc:
                _log.warning("watch %s: cannot read the version: %s", e.name, exc)
                continue
            if v <= e.version or e.stopped:
                continue
            try:
                cred = self.get(e.name)
            except SecretError as exc:
                _log.warning("watch %s: version %d appeared but cannot be read: %s", e.name, v, exc)
                continue
            e.version = cred.version
            _log.info("key %s: version %d picked up (key %s)", e.name, cred.version, cred.fingerprint)
            try:
                e.callback(cred)
                fired += 1
            except Exception as exc:  # a holder's bug must not stop reloads for the others
                _log.error("watch %s: callback failed: %s", e.name, type(exc).__name__)
        return fired

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            with self._lock:
                if not self._entries:
                    continue
            self.poll_once()

    def stop(self) -> None:
        self._stop.set()
        t = self._thread
        if t is not None and t is not threading.current_thread():
            t.join(timeout=5)
        self._thread = None
