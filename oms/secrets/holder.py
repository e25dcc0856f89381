"""Secrets room: `ClientHolder`, how a connector keeps trading while its key rotates (hot reload).

Touches only the store it watches and the client objects its factory builds. The holder builds a venue
client from the current credential and, when `watch()` reports a new version, builds a second client with
the new key and swaps the reference in one assignment. Orders already in flight finish on the old client
(the venue still accepts the old key during the grace period); every order sent after the swap uses the
new key; the old client is closed `close_after_s` later. No venue name here: the connector passes
`make_client(credential) -> client`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

from oms import log
from oms.secrets.audit import AuditSink
from oms.secrets.model import Credential, KeyStore, Watch

_log = log.get(__name__)
C = TypeVar("C")


class ClientHolder(Generic[C]):
    """`holder.client` is always a client built with the newest key version seen."""

    def __init__(
        self,
        store: KeyStore,
        name: str,
        make_client: Callable[[Credential], C],
        *,
        audit: AuditSink | None = None,
        close_client: Callable[[C], None] | None = None,
        interval: float | None = None,
        close_after_s: float = 30.0,
    ) -> None:
        self.name = name
        self._make = make_client
        self._close = close_client
        self._audit = audit
        self._close_after = close_after_s
        self._retired: list[tuple[float, C]] = []
        self._lock = threading.Lock()
        cred = store.get(name)
        self.version = cred.version
        self.key_fingerprint = cred.fingerprint
        try:
            self.client: C = make_client(cred)
        finally:
            cred.close()
        self.swaps = 0
        self._watch: Watch = store.watch(name, self._on_new, interval=interval)

    def _on_new(self, cred: Credential) -> None:
        try:
            new_client = self._make(cred)
        finally:
            cred.close()  # the client keeps what it needs; the locked copy is zeroised now
        with self._lock:
            old, self.client = self.client, new_client
            old_version, self.version = self.version, cred.version
            self.key_fingerprint = cred.fingerprint
            self.swaps += 1
        if self._audit is not None:
            self._audit.record(
                "key.reloaded",
                self.name,
                old_version=old_version,
                new_version=cred.version,
                key=cred.fingerprint,
            )
        _log.info("key %s: client switched v%d -> v%d", self.name, old_version, cred.version)
        # a request may still be in flight on the old client: close it only `close_after_s` later
        now = time.monotonic()
        self._retired.append((now, old))
        self._close_retired(now - self._close_after)

    def _close_retired(self, before: float) -> None:
        keep = []
        for t, c in self._retired:
            if t > before:
                keep.append((t, c))
            elif self._close is not None:
                try:
                    self._close(c)
                except Exception as e:
                    _log.warning("closing an old client failed: %s", type(e).__name__)
        self._retired = keep

    def stop(self) -> None:
        self._watch.stop()
        self._close_retired(float("inf"))
