"""Connector room: keeps a local order book in step with a venue's diff stream.

Touches nothing; the connector feeds it depth diffs and REST snapshots and gets back what to do. The
procedure is the same for every venue — buffer diffs until a snapshot arrives; fetch again if the
snapshot does not reach the first buffered diff; drop stale diffs; the first applied diff must bridge
the snapshot; every later diff must continue the previous one, else gap -> reset and resync — and the
venue's sequencing rule (`oms.venues.interface.BookRule`, from the adapter) says what "reach", "stale",
"bridge" and "continue" mean (each venue numbers its diffs its own way).

Quantities are absolute (0 removes a level). Prices/quantities are kept as int64 ticks/lots through
the instrument's converters, so the book compares exactly.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from oms.venues.interface import BookRule, DepthDiff


class SyncState(enum.Enum):
    WAITING_SNAPSHOT = "waiting_snapshot"  # buffering diffs, a snapshot is needed
    SYNCED = "synced"


class Action(enum.Enum):
    NONE = "none"  # event buffered or dropped, nothing to publish
    APPLIED = "applied"  # book changed; publish deltas
    NEED_SNAPSHOT = "need_snapshot"  # fetch a (new) REST snapshot


@dataclass(slots=True)
class BookSync:
    rule: BookRule
    to_ticks: Callable[[str], int] = field(default=lambda s: int(Decimal(s) * 10**8))
    to_lots: Callable[[str], int] = field(default=lambda s: int(Decimal(s) * 10**8))
    max_buffer: int = 10_000
    state: SyncState = SyncState.WAITING_SNAPSHOT
    last_id: int = -1
    bids: dict[int, int] = field(default_factory=dict)
    asks: dict[int, int] = field(default_factory=dict)
    buffer: list[DepthDiff] = field(default_factory=list)
    gaps: int = 0
    resyncs: int = 0
    last_changes: list[tuple[int, int, int]] = field(default_factory=list)  # (side, ticks, lots)

    # --- feeding -----------------------------------------------------------------------------
    def on_event(self, ev: DepthDiff) -> Action:
        if self.state is SyncState.WAITING_SNAPSHOT:
            self.buffer.append(ev)
            if len(self.buffer) > self.max_buffer:
                self.buffer = self.buffer[-self.max_buffer :]
            return Action.NONE
        if not self._continues(ev):
            self.gaps += 1
            self._reset()
            self.buffer.append(ev)
            return Action.NEED_SNAPSHOT
        self._apply(ev)
        return Action.APPLIED

    def on_snapshot(
        self, last_update_id: int, bids: Sequence[tuple[str, str]], asks: Sequence[tuple[str, str]]
    ) -> Action:
        """Install a REST snapshot and replay the buffered diffs that follow it."""
        # the snapshot must reach the first buffered diff (the venue's rule says how); an older
        # snapshot leaves a hole between it and the stream -> fetch again
        if self.buffer and not self.rule.reaches(last_update_id, self.buffer[0]):
            return Action.NEED_SNAPSHOT
        self.bids = {self.to_ticks(p): self.to_lots(q) for p, q in bids if self.to_lots(q) > 0}
        self.asks = {self.to_ticks(p): self.to_lots(q) for p, q in asks if self.to_lots(q) > 0}
        self.last_id = last_update_id
        self.state = SyncState.SYNCED
        self.resyncs += 1
        pending, self.buffer = self.buffer, []
        first_applied = True
        changes = [(1, p, q) for p, q in self.bids.items()] + [(-1, p, q) for p, q in self.asks.items()]
        for ev in pending:
            if self._stale(ev):
                continue
            ok = self._bridges(ev) if first_applied else self._continues(ev)
            if not ok:
                self.gaps += 1
                self._reset()
                return Action.NEED_SNAPSHOT
            first_applied = False
            self._apply(ev)
            changes.extend(self.last_changes)
        self.last_changes = changes
        return Action.APPLIED

    # --- rules -------------------------------------------------------------------------------
    def _stale(self, ev: DepthDiff) -> bool:
        return self.rule.stale(self.last_id, ev)

    def _bridges(self, ev: DepthDiff) -> bool:
        return self.rule.bridges(self.last_id, ev)

    def _continues(self, ev: DepthDiff) -> bool:
        return self.rule.continues(self.last_id, ev)

    def _apply(self, ev: DepthDiff) -> None:
        changes: list[tuple[int, int, int]] = []
        for side, book, levels in ((1, self.bids, ev.bids), (-1, self.asks, ev.asks)):
            for p, q in levels:
                t, lots = self.to_ticks(p), self.to_lots(q)
                if lots == 0:
                    book.pop(t, None)
                else:
                    book[t] = lots
                changes.append((side, t, lots))
        self.last_id = ev.last_id
        self.last_changes = changes

    def _reset(self) -> None:
        self.state = SyncState.WAITING_SNAPSHOT
        self.bids.clear()
        self.asks.clear()
        self.buffer = []
        self.last_id = -1

    # --- reading -----------------------------------------------------------------------------
    @property
    def synced(self) -> bool:
        return self.state is SyncState.SYNCED

    def best(self) -> tuple[int, int, int, int]:
        """(bid_ticks, bid_lots, ask_ticks, ask_lots); 0s for an empty side."""
        bp = max(self.bids) if self.bids else 0
        ap = min(self.asks) if self.asks else 0
        return bp, self.bids.get(bp, 0), ap, self.asks.get(ap, 0)

    def top(self, n: int) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        b = sorted(self.bids.items(), reverse=True)[:n]
        a = sorted(self.asks.items())[:n]
        return b, a
