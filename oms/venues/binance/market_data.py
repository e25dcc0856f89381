"""Venues room (binance): the data client — combined-stream URL, stream payloads → values, REST depth
snapshots, and Binance's book sequencing rule (spot U/u, USD-M pu).

Touches the venue only through the runtime's `RestGate` (the snapshot). Streams per symbol:
`<sym>@depth@100ms` and `<sym>@aggTrade` (trades feed VWAP), plus `<sym>@markPrice@1s` on USD-M.
Payloads go through the fixture-tested parsers of `parse.py`.

Binance's documented procedure, spot: drop diffs with u <= lastUpdateId; the first applied has
U <= lastUpdateId+1 <= u; every later one has U == previous u + 1. USD-M: drop u < lastUpdateId; the
first applied has U <= lastUpdateId <= u; every later one has pu == previous u. A snapshot must reach
the first buffered diff (spot U <= lastUpdateId+1, USD-M U <= lastUpdateId), else fetch again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from oms.errors import Rejected
from oms.venues.binance import parse
from oms.venues.interface import (
    BookRule,
    BookSnapshot,
    DepthDiff,
    MarketMessage,
    MarkUpdate,
    RestGate,
    TradeTick,
)


def stream_base(ws_url: str) -> str:
    """`wss://host:9443/ws` → `wss://host:9443` (combined streams live under it)."""
    u = ws_url.rstrip("/")
    return u[: -len("/ws")] if u.endswith("/ws") else u


def snapshot_weight(market: str, limit: int) -> int:
    if market == "spot":
        return 5 if limit <= 100 else 25 if limit <= 500 else 50 if limit <= 1000 else 250
    return 2 if limit <= 50 else 5 if limit <= 100 else 10 if limit <= 500 else 20


@dataclass(frozen=True)
class SpotRule:
    def stale(self, last_id: int, ev: DepthDiff) -> bool:
        return ev.last_id <= last_id

    def bridges(self, last_id: int, ev: DepthDiff) -> bool:
        return ev.first_id <= last_id + 1 <= ev.last_id

    def continues(self, last_id: int, ev: DepthDiff) -> bool:
        return ev.first_id == last_id + 1

    def reaches(self, snapshot_id: int, first_buffered: DepthDiff) -> bool:
        return first_buffered.first_id <= snapshot_id + 1


@dataclass(frozen=True)
class FuturesRule:
    def stale(self, last_id: int, ev: DepthDiff) -> bool:
        return ev.last_id < last_id

    def bridges(self, last_id: int, ev: DepthDiff) -> bool:
        return ev.first_id <= last_id <= ev.last_id

    def continues(self, last_id: int, ev: DepthDiff) -> bool:
        return ev.prev_id == last_id

    def reaches(self, snapshot_id: int, first_buffered: DepthDiff) -> bool:
        return first_buffered.first_id <= snapshot_id


def _lv(rows: list[tuple[Any, Any]]) -> list[tuple[str, str]]:
    return [(str(p), str(q)) for p, q in rows]


class BinanceData:
    """The data face of the Binance adapter."""

    def stream_url(self, market: str, ws_url: str, symbols: Sequence[str], channels: Sequence[str]) -> str:
        names = []
        for s in symbols:
            low = s.lower()
            if "depth" in channels:
                names.append(f"{low}@depth@100ms")
            if "trades" in channels:
                names.append(f"{low}@aggTrade")
            if "mark" in channels and market == "usdm":
                names.append(f"{low}@markPrice@1s")
        return f"{stream_base(ws_url)}/stream?streams={'/'.join(names)}"

    def parse_market(self, market: str, msg: dict[str, Any]) -> list[MarketMessage]:
        data = msg.get("data", msg)
        if not isinstance(data, dict):
            return []
        e = data.get("e")
        try:
            if e == "depthUpdate":
                d = parse.parse_depth_update(data)
                pu = d.prev_last_id if d.prev_last_id is not None else -1
                return [DepthDiff(d.symbol, d.first_id, d.last_id, pu, _lv(d.bids), _lv(d.asks), d.ts_ms)]
            if e == "aggTrade":
                t = parse.parse_agg_trade(data)
                return [TradeTick(t.symbol, t.trade_id, str(t.price), str(t.qty), t.aggressor, t.ts_ms)]
            if e == "markPriceUpdate":
                m = parse.parse_mark_price(data)
                return [MarkUpdate(m.symbol, str(m.mark), m.ts_ms)]
        except Rejected:
            return []
        return []

    async def snapshot(self, rest: RestGate, market: str, symbol: str, levels: int) -> BookSnapshot:
        snap = await rest.call(
            market,
            "get_order_book" if market == "spot" else "futures_order_book",
            weight=snapshot_weight(market, levels),
            signed=False,
            symbol=symbol,
            limit=levels,
        )
        return BookSnapshot(int(snap["lastUpdateId"]), snap.get("bids", []), snap.get("asks", []))

    def book_rule(self, market: str) -> BookRule:
        return SpotRule() if market == "spot" else FuturesRule()
