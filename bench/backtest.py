"""Benchmark (backtest room): replay throughput — tape records/s and orders/s through the engine kernels +
simulated venue + latency heap — with a plain-Python replay loop and NautilusTrader's BacktestEngine as
peers over the same tape in the same run.

Touches only a temporary tape file it writes and deletes. Phases (each best of --repeat, after one
warm-up run that also loads the numba cache; first-ever runs compile the engine kernels, ~1 min):
 1. ours, MovingAverageCross (taker, few orders) and QuotingMarketMaker (many orders/cancels), zero
    latency and lognormal:500us,0.5 on every leg: records/s = tape records / wall time of run();
    orders/s = SubmitOrder + CancelOrder commands the strategy sent / wall time.
 2. peer "plain Python": the same MovingAverageCross object over the same records in a bare loop
    that fills market orders at the touch (no engine, no risk, no latency, no events) — the cost of
    the strategy and the Python loop alone, i.e. what the engine + venue + scheduling add.
 3. peer NautilusTrader (optional, installed by the `bench` extra): the same tape's BBO records as
    QuoteTicks (trades as TradeTicks) into a BacktestEngine with a moving-average-cross Strategy
    that sends market orders, in a subprocess; records/s = records / (run(N) − run(tiny)).
Usage: .venv/bin/python bench/backtest.py [--records 50000] [--repeat 2] [--json]  (CI=true: smaller)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from oms.backtest import tape as T
from oms.backtest.runner import Backtest, Config
from oms.backtest.strategies import MovingAverageCross, QuotingMarketMaker
from oms.shm import records as R

STRATS = {
    "ma_cross": lambda: MovingAverageCross(fast=20, slow=80, qty=100),
    "market_maker": QuotingMarketMaker,
}


def run_ours(tape: T.Tape, name: str, latency: list[str], repeat: int) -> dict[str, Any]:
    best: dict[str, Any] = {}
    for _ in range(repeat):
        bt = Backtest(tape, STRATS[name](), Config(latency=latency, seed=1))
        t = time.perf_counter()
        rep = bt.run()
        el = time.perf_counter() - t
        c = rep.engine["commands"]
        if not best or el < best["seconds"]:
            best = {
                "seconds": round(el, 4),
                "records_per_s": round(len(tape.records) / el),
                "orders": c,
                "orders_per_s": round(c / el),
                "fills": rep.fills,
                "net_pnl": rep.net_pnl,
            }
    return best


class _PeerCtx:
    """Just enough of the backtest Context for MovingAverageCross, with no engine behind it."""

    def __init__(self) -> None:
        self.pos = 0
        self.n = 0

    def next_id(self) -> int:
        self.n += 1
        return self.n

    def position(self, instrument: int | None = None) -> int:
        return self.pos

    def market(self, side: int, qty: int, **_: int) -> dict[str, int]:
        return {"client_order_id": self.next_id(), "side": side, "qty": qty}


def run_plain(tape: T.Tape, repeat: int) -> dict[str, Any]:
    best: dict[str, Any] = {}
    recs = tape.records
    for _ in range(repeat):
        s = MovingAverageCross(fast=20, slow=80, qty=100)
        ctx = _PeerCtx()
        s.on_start(ctx)  # type: ignore[arg-type]
        bid = ask = 0
        cash = orders = 0
        t = time.perf_counter()
        for rec in recs:
            if rec["kind"] == R.MD_BBO:
                bid, ask = int(rec["price"]), int(rec["ask_price"])
            for o in s.on_market(rec):
                orders += 1
                px = ask if o["side"] > 0 else bid
                ctx.pos += o["side"] * o["qty"]
                cash -= o["side"] * o["qty"] * px
                s.in_flight = 0
        el = time.perf_counter() - t
        if not best or el < best["seconds"]:
            best = {
                "seconds": round(el, 4),
                "records_per_s": round(len(recs) / el),
                "orders": orders,
                "orders_per_s": round(orders / el),
            }
    return best


NAUTILUS = r"""
import json, sys, time
from collections import deque
import numpy as np
from nautilus_trader.backtest.engine import BacktestEngine, BacktestEngineConfig
from nautilus_trader.config import LoggingConfig, RiskEngineConfig, StrategyConfig
from nautilus_trader.model.currencies import BTC, USDT
from nautilus_trader.model.data import QuoteTick, TradeTick
from nautilus_trader.model.enums import AccountType, AggressorSide, OmsType, OrderSide
from nautilus_trader.model.identifiers import TradeId, Venue
from nautilus_trader.model.objects import Money, Price, Quantity
from nautilus_trader.test_kit.providers import TestInstrumentProvider
from nautilus_trader.trading.strategy import Strategy
import nautilus_trader

from oms.backtest import tape as T

class Cfg(StrategyConfig, frozen=True):
    fast: int = 20
    slow: int = 80

class MaCross(Strategy):
    def __init__(self, config):
        super().__init__(config)
        self.win = deque(maxlen=config.slow)
        self.prev = 0
        self.pos = 0
        self.orders = 0
    def on_start(self):
        self.inst = self.cache.instrument(TestInstrumentProvider.btcusdt_binance().id)
        self.subscribe_quote_ticks(self.inst.id)
        self.subscribe_trade_ticks(self.inst.id)
    def on_quote_tick(self, tick):
        w = self.win
        w.append((tick.bid_price.as_double() + tick.ask_price.as_double()) / 2)
        if len(w) < self.config.slow:
            return
        fast = sum(list(w)[-self.config.fast:]) / self.config.fast
        slow = sum(w) / self.config.slow
        sign = (fast > slow) - (fast < slow)
        if sign and self.prev and sign != self.prev:
            want = sign * 100 - self.pos
            if want:
                side = OrderSide.BUY if want > 0 else OrderSide.SELL
                q = Quantity(abs(want) * 1e-5, 6)
                self.submit_order(self.order_factory.market(self.inst.id, side, q))
                self.pos += want
                self.orders += 1
        if sign:
            self.prev = sign
    def on_trade_tick(self, tick):
        pass

def run(recs):
    eng = BacktestEngine(BacktestEngineConfig(logging=LoggingConfig(log_level="ERROR"),
                         risk_engine=RiskEngineConfig(bypass=True)))
    inst = TestInstrumentProvider.btcusdt_binance()
    eng.add_venue(venue=Venue("BINANCE"), oms_type=OmsType.NETTING, account_type=AccountType.MARGIN,
                  base_currency=None, starting_balances=[Money(10_000_000_000, USDT), Money(100000, BTC)])
    eng.add_instrument(inst)
    data = []
    for r in recs:
        ts = int(r["ts_ns"])
        if r["kind"] == 42:
            data.append(QuoteTick(inst.id, Price(r["price"] / 100, 2), Price(r["ask_price"] / 100, 2),
                                  Quantity(r["qty"] * 1e-5, 6), Quantity(r["ask_qty"] * 1e-5, 6), ts, ts))
        else:
            data.append(TradeTick(inst.id, Price(r["price"] / 100, 2), Quantity(r["qty"] * 1e-5, 6),
                                  AggressorSide.BUYER if r["side"] > 0 else AggressorSide.SELLER,
                                  TradeId(str(int(r["seq"]))), ts, ts))
    eng.add_data(data)
    s = MaCross(Cfg())
    eng.add_strategy(s)
    t = time.perf_counter()
    eng.run()
    el = time.perf_counter() - t
    orders = s.orders
    eng.dispose()
    return el, orders

recs = T.read(sys.argv[1]).records
base, _ = run(recs[:200])
el, orders = run(recs)
el = max(el - base, 1e-9)
print(json.dumps({"version": nautilus_trader.__version__, "records": len(recs), "orders": orders,
                  "seconds": round(el, 4), "records_per_s": round(len(recs) / el),
                  "orders_per_s": round(orders / el)}))
"""


def run_nautilus(path: Path) -> dict[str, Any]:
    try:
        import nautilus_trader  # noqa: F401
    except ImportError:
        return {"available": False, "note": "nautilus_trader not installed: pip install -e '.[bench]'"}
    p = subprocess.run(
        [sys.executable, "-c", NAUTILUS, str(path)], capture_output=True, text=True, timeout=900
    )
    if p.returncode != 0:
        return {"available": False, "note": f"nautilus run failed: {p.stderr.strip()[-400:]}"}
    out = json.loads(p.stdout.strip().splitlines()[-1])
    out["available"] = True
    return out


def main() -> int:
    ci = bool(os.environ.get("CI"))
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=10_000 if ci else 50_000)
    ap.add_argument("--repeat", type=int, default=1 if ci else 2)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--no-peer", action="store_true", help="skip NautilusTrader")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    if a.records < 1000 or a.repeat < 1:
        ap.error("--records must be >= 1000 and --repeat >= 1")
    recs = T.synth(a.records, seed=a.seed)
    tape = T.Tape(recs, [T.TapeInstrument(id=1)])
    # warm-up (numba cache load, allocation), excluded
    Backtest(T.Tape(recs[:2000], tape.instruments), QuotingMarketMaker(), Config()).run()
    ours = {}
    for name in STRATS:
        for lat_name, lat in (("zero", []), ("lognormal", ["all=lognormal:500us,0.5"])):
            ours[f"{name}/{lat_name}"] = run_ours(tape, name, lat, a.repeat)
    plain = run_plain(tape, a.repeat)
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "bench.tape"
        T.write(path, recs, tape.instruments, source="bench", seed=a.seed)
        naut = {"available": False, "note": "skipped (--no-peer)"} if a.no_peer else run_nautilus(path)
    ma = ours["ma_cross/zero"]
    ratios = {"ours_vs_plain_python": round(ma["records_per_s"] / plain["records_per_s"], 3)}
    if naut.get("available"):
        ratios["ours_vs_nautilus"] = round(ma["records_per_s"] / naut["records_per_s"], 3)
    out = {
        "records": a.records,
        "repeat": a.repeat,
        "ours": ours,
        "peer_plain_python": plain,
        "peer_nautilus": naut,
        "ratio_records_per_s": ratios,
        "note": "one thread; ratio = ours ma_cross/zero records/s over the peer's on the same tape",
    }
    if a.json:
        print(json.dumps(out))
        return 0
    print(f"backtest replay, {a.records} records (synthetic, seed {a.seed}), best of {a.repeat}")
    print(f"{'run':<28}{'records/s':>12}{'orders':>9}{'orders/s':>11}{'fills':>8}  net PnL")
    for k, v in ours.items():
        row = f"{k:<28}{v['records_per_s']:>12}{v['orders']:>9}{v['orders_per_s']:>11}{v['fills']:>8}"
        print(f"{row}  {v['net_pnl']}")
    print(f"{'peer plain python ma_cross':<28}{plain['records_per_s']:>12}{plain['orders']:>9}"
          f"{plain['orders_per_s']:>11}")  # fmt: skip
    if naut.get("available"):
        print(f"{'peer nautilus ' + naut['version']:<28}{naut['records_per_s']:>12}{naut['orders']:>9}"
              f"{naut['orders_per_s']:>11}")  # fmt: skip
    else:
        print(f"peer nautilus: {naut['note']}")
    print("ratios (records/s):", ", ".join(f"{k} {v}x" for k, v in ratios.items()))
    return 0


if __name__ == "__main__":
    np.seterr(all="ignore")
    raise SystemExit(main())
