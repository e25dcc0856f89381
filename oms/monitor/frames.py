"""Monitor room: the ingestion contract, i.e. what engine, connectors, gateway and bridge send the monitor.

Touches nothing (pure data + encode/decode). One message shape, `StatsFrame`, travels two equivalent ways:

- NATS: publish `encode(frame)` (msgpack) on subject `<monitor.stats_subject>.<program>`, e.g.
  `monitor.stats.conn-binance`. The monitor subscribes to `<prefix>.>`. This is the normal path.
- HTTP: `POST /ingest` with the same msgpack body to the monitor's port (for processes without NATS
  and for tests). Reply 204, or 400 with the decode error.

A frame carries what happened since the producer's previous frame:
- `events`: raw EVENT records (oms.shm.records.EVENT, 128 B each) concatenated, exactly as they came off
  a ring; the monitor counts orders, fills and rejects per exchange from them.
- `latencies`: batches of samples in ns per (stage, exchange); stages: "ring" (ring hop), "risk"
  (pre-trade check), "venue_rtt" (request sent → venue answer), or any other lowercase word.
- `venues`: the producer's current view of each venue it talks to (health state, rate-limit budget,
  cumulative reconnects, reconciliation drift). Cumulative values, so a lost frame loses nothing.
- `rings`: drops counted by a producer when `publish` found its ring full (cumulative per ring).
- `positions` / `risk`: the engine's positions, PnL and trading state for `oms top`.
- `alerts`: alerts a producer raises for a person (e.g. the `keys` program: a key rotation or expiry is
  due, an old key must be deleted at the venue); the monitor sends each to the Slack/Discord webhooks.
`oms.monitor.feed.StatsFeed` builds and sends frames for a producer.
"""

from __future__ import annotations

import msgspec
import numpy as np

from oms.shm.records import EVENT

VENUE_STATES = ("up", "degraded", "down")


class LatencyBatch(msgspec.Struct, forbid_unknown_fields=True):
    stage: str
    exchange: str
    values_ns: list[int]


class VenueReport(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    exchange: str  # "binance" or "binance_spot" style; the label used everywhere for this venue
    state: str = "up"  # one of VENUE_STATES
    reason: str = ""
    reconnects: int = 0  # cumulative since the producer started
    rate_limit_used: float = 0.0  # e.g. request weight used in the current window
    rate_limit_max: float = 0.0  # 0 = unknown
    recon_drift_orders: int = 0  # orders whose state differed between venue and OMS at last reconcile
    recon_drift_lots: int = 0  # abs position difference in lots at last reconcile


class RingReport(msgspec.Struct, forbid_unknown_fields=True):
    ring: str
    drops: int  # cumulative publishes refused because the ring was full


class PositionReport(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    exchange: str
    symbol: str
    qty: float
    avg_price: float = 0.0
    realized_pnl: float = 0.0
    unrealized_pnl: float = 0.0


class AlertReport(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    kind: str  # e.g. rotation_soon, rotation_overdue, expiry_soon, revoke_manually, key_rotated
    subject: str  # what it is about, e.g. "binance_spot v3"
    message: str  # what to do, for a person
    due_at: float = 0.0  # Unix time the thing is due (0 = now)


class StatsFrame(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    program: str
    ts_ns: int
    events: bytes = b""
    latencies: list[LatencyBatch] = []
    venues: list[VenueReport] = []
    rings: list[RingReport] = []
    positions: list[PositionReport] | None = None  # None = this producer does not own positions
    risk_state: str = ""  # engine trading state: "active", "reducing", "halted"; "" = not reported
    alerts: list[AlertReport] = []


_enc = msgspec.msgpack.Encoder()
_dec = msgspec.msgpack.Decoder(StatsFrame)


class FrameError(ValueError):
    """A frame that cannot be decoded or is inconsistent; the message says which field."""


def encode(frame: StatsFrame) -> bytes:
    return _enc.encode(frame)


def decode(data: bytes) -> StatsFrame:
    try:
        frame = _dec.decode(data)
    except msgspec.DecodeError as e:
        raise FrameError(f"bad monitor frame: {e}") from None
    if len(frame.events) % EVENT.itemsize:
        raise FrameError(
            f"bad monitor frame from {frame.program!r}: events is {len(frame.events)} bytes, "
            f"not a multiple of the EVENT record size {EVENT.itemsize}"
        )
    for v in frame.venues:
        if v.state not in VENUE_STATES:
            raise FrameError(
                f"bad monitor frame from {frame.program!r}: venues[{v.exchange}].state={v.state!r}, "
                f"must be one of {', '.join(VENUE_STATES)}"
            )
    return frame


def events_of(frame: StatsFrame) -> np.ndarray:
    """The frame's EVENT records as a structured array (a view on the bytes, no copy)."""
    return np.frombuffer(frame.events, dtype=EVENT)
