"""Backtest room: what a run measured — PnL from the engine's positions, fills, fees, turnover, max
drawdown, order/fill counts, reject reasons and the latency distribution each leg used.

Touches nothing but the Engine it reads (positions, read-only). Money is kept in int 1e-8 quote
units (records.FEE_SCALE) while running and printed as decimal strings, so the same run gives a
byte-identical JSON report. Equity = realised − fees + unrealised (at the engine's reference price:
mark, else BBO mid, else last trade), sampled after every tape record for the drawdown.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import Any

import numpy as np
from hdrh.histogram import HdrHistogram

from oms.backtest.simvenue import REASONS
from oms.engine import constants as C
from oms.engine.core import Engine
from oms.shm import records as R

_E8 = Decimal(R.FEE_SCALE)


def money(e8: int) -> str:
    return f"{(Decimal(int(e8)) / _E8).quantize(Decimal('0.00000001')):f}"


@dataclass(slots=True)
class Report:
    records: int
    orders_submitted: int
    orders_rejected: int
    fills: int
    filled_qty_lots: int
    maker_fills: int
    taker_fills: int
    canceled: int
    resting_at_end: int
    position_lots: dict[str, int]
    realised: str
    unrealised: str
    fees: str
    net_pnl: str
    turnover: str
    max_drawdown: str
    reject_reasons: dict[str, int]
    latency_us: dict[str, dict[str, float]]
    latency_spec: dict[str, str]
    engine: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def table(self) -> str:
        rows = [
            ("records", self.records),
            ("orders submitted / rejected", f"{self.orders_submitted} / {self.orders_rejected}"),
            ("fills (maker / taker)", f"{self.fills} ({self.maker_fills} / {self.taker_fills})"),
            ("filled qty (lots)", self.filled_qty_lots),
            ("canceled / resting at end", f"{self.canceled} / {self.resting_at_end}"),
            ("position (lots)", ", ".join(f"{k}: {v}" for k, v in self.position_lots.items()) or "-"),
            ("realised", self.realised),
            ("unrealised", self.unrealised),
            ("fees", self.fees),
            ("net PnL", self.net_pnl),
            ("turnover", self.turnover),
            ("max drawdown", self.max_drawdown),
            ("reject reasons", ", ".join(f"{k}: {v}" for k, v in self.reject_reasons.items()) or "-"),
        ]
        for leg, q in self.latency_us.items():
            rows.append(
                (
                    f"latency {leg} ({self.latency_spec[leg]})",
                    f"n={int(q['count'])} p50={q['p50']} p99={q['p99']} p99.9={q['p99.9']} max={q['max']} us",
                )
            )
        w = max(len(k) for k, _ in rows)
        return "\n".join(f"{k:<{w}}  {v}" for k, v in rows)


def reason_name(code: int) -> str:
    return REASONS.get(code) or C.reason_name(code)


class Recorder:
    def __init__(self, engine: Engine, account: int, instruments: list[int], lat: dict[str, Any]) -> None:
        self.e = engine
        self.account = account
        self.instruments = instruments
        self.lat = lat
        self.hist = {leg: HdrHistogram(1, 60_000_000_000, 3) for leg in lat}
        self.kinds: dict[int, int] = {}
        self.rejects: dict[str, int] = {}
        self.fills = self.maker = self.taker = self.filled_qty = 0
        self.turnover_e8 = 0
        self.peak = 0
        self.max_dd = 0
        self.fill_log: list[tuple[int, int, int, int, int]] = []  # instrument, side, price, qty, fee

    def latency(self, leg: str, ns: int) -> None:
        self.hist[leg].record_value(max(1, ns))

    def event(self, ev: np.void) -> None:
        k = int(ev["kind"])
        self.kinds[k] = self.kinds.get(k, 0) + 1
        if k == R.ORDER_REJECTED:
            name = reason_name(int(ev["reason"]))
            self.rejects[name] = self.rejects.get(name, 0) + 1
        elif k == R.ORDER_FILLED:
            if int(ev["reason"]) not in (C.R_NONE, C.R_LATE_EVENT):
                return  # duplicate / overfill / unknown order: forwarded, not applied by the engine
            i, px, q = int(ev["instrument"]), int(ev["price"]), int(ev["qty"])
            self.fills += 1
            self.filled_qty += q
            if ev["liquidity"] == R.LIQ_MAKER:
                self.maker += 1
            else:
                self.taker += 1
            spec = self.e.specs[i]
            self.turnover_e8 += px * q * spec.mult // spec.div
            self.fill_log.append((i, int(ev["side"]), px, q, int(ev["fee"])))

    def equity_e8(self) -> int:
        p = self.e.s.pos[self.account]
        return int(p["realised"].sum() - p["fees"].sum() + p["unrealised"].sum())

    def mark(self, rec: np.void | None, t: int) -> None:
        eq = self.equity_e8()
        if eq > self.peak:
            self.peak = eq
        elif self.peak - eq > self.max_dd:
            self.max_dd = self.peak - eq

    def mark_path(self, eq: np.ndarray) -> None:
        """The drawdown update of `mark` over a run of equity samples (batched market path)."""
        peaks = np.maximum.accumulate(np.concatenate(([self.peak], eq)))
        dd = int((peaks[1:] - eq).max())
        self.max_dd = max(self.max_dd, dd)
        self.peak = int(peaks[-1])

    def report(self, n_records: int, resting: int) -> Report:
        p = self.e.s.pos[self.account]
        realised, fees, unreal = int(p["realised"].sum()), int(p["fees"].sum()), int(p["unrealised"].sum())
        pos = {self.e.specs[i].symbol or str(i): int(p[i]["qty"]) for i in sorted(self.instruments)}
        lat = {}
        for leg, h in self.hist.items():
            lat[leg] = {
                "count": float(h.get_total_count()),
                "p50": round(h.get_value_at_percentile(50) / 1000, 3),
                "p99": round(h.get_value_at_percentile(99) / 1000, 3),
                "p99.9": round(h.get_value_at_percentile(99.9) / 1000, 3),
                "max": round(h.get_max_value() / 1000, 3),
            }
        k = self.kinds
        return Report(
            records=n_records,
            orders_submitted=k.get(R.ORDER_SUBMITTED, 0),
            orders_rejected=k.get(R.ORDER_REJECTED, 0),
            fills=self.fills,
            filled_qty_lots=self.filled_qty,
            maker_fills=self.maker,
            taker_fills=self.taker,
            canceled=k.get(R.ORDER_CANCELED, 0),
            resting_at_end=resting,
            position_lots=pos,
            realised=money(realised),
            unrealised=money(unreal),
            fees=money(fees),
            net_pnl=money(realised - fees + unreal),
            turnover=money(self.turnover_e8),
            max_drawdown=money(self.max_dd),
            reject_reasons=dict(sorted(self.rejects.items())),
            latency_us=lat,
            latency_spec={leg: m.spec or "const:0" for leg, m in self.lat.items()},
            engine=self.e.counters(),
        )
