"""Gateway tests (test double, never shipped): a FAKE engine for the few gateway tests that need one.

Touches the two gateway rings of a prefix: consumes `names.gateway_commands(prefix)` and produces
`names.engine_events_to_gateway(prefix)`. The benchmark and most gateway tests run the engine
room's REAL process (tests/integration/gateway/engine_proc.py); this double remains only for tests that
need answers the real engine cannot give without a venue connector and simulator behind it (an
OrderAccepted/OrderFilled/OrderCanceled straight away), so the gateway's event paths can be checked in
isolation. It keeps just enough state to answer like an engine:
- SubmitOrder -> OrderAccepted (status Accepted), or OrderRejected (qty/price <= 0, trading halted,
  duplicate client_order_id); a LIMIT IOC/FOK order also gets an OrderFilled at its price (full fill),
  so positions and events can be observed.
- CancelOrder -> OrderCanceled, or CancelRejected (unknown_order) when it is not open.
- ModifyOrder -> OrderModified, or ModifyRejected.  CancelAll -> one OrderCanceled per open order of the
  account (the last flagged FLAG_LAST_IN_BATCH), or a single OrderCanceled with client_order_id 0 when
  none was open.  SetTradingState / SetRiskLimit -> TradingStateChanged / RiskLimitChanged.
No risk checks beyond those, no venue. Run: `python tests/integration/gateway/fake_engine.py --prefix P`.
"""

from __future__ import annotations

import argparse
import os
import signal
import time
from typing import Any

import numpy as np

from oms.engine import constants as ec
from oms.shm import names
from oms.shm import records as r
from oms.shm.ring import Ring, open_ring
from oms.shm.wait import Backoff, BackoffConfig

# COMMAND tuple positions
C_KIND, C_FLAGS, C_VENUE, C_MARKET, C_ACCOUNT, C_INST, C_COID, C_REF = range(8)
C_PRICE, C_QTY, C_SEQ, C_SIDE, C_TYPE, C_TIF, C_PARAM_ID, C_SCOPE = 8, 9, 13, 14, 15, 16, 20, 21


class FakeEngine:
    def __init__(self, prefix: str, capacity: int = 1 << 16) -> None:
        self.prefix = prefix
        self.cmd = _open(names.gateway_commands(prefix), r.COMMAND, capacity, producer=False)
        self.evt = _open(names.engine_events_to_gateway(prefix), r.EVENT, capacity, producer=True)
        self.evt.register_producer()
        self.open: dict[
            int, list[int]
        ] = {}  # coid -> [account, instrument, side, type, price, qty, venue, market]
        self.known: set[int] = set()
        self.halted: set[int] = set()  # accounts (SCOPE_ALL = every account)
        self.seq = 0
        self.trade = 0
        self.processed = 0

    def step(self, buf: np.ndarray) -> int:
        n = self.cmd.consume(buf)
        if not n:
            return 0
        out: list[tuple[Any, ...]] = []
        now = time.time_ns()
        for c in buf[:n].tolist():
            self._one(c, now, out)
        arr = np.array(out, dtype=r.EVENT)
        done = 0
        while done < len(arr):  # the gateway drains continuously; wait for room rather than drop
            done += self.evt.publish_batch(arr[done:])
            if done < len(arr):
                time.sleep(0.0001)
        self.processed += n
        return n

    def _ev(
        self,
        out: list,
        c: tuple,
        kind: int,
        now: int,
        *,
        coid: int | None = None,
        o: list[int] | None = None,
        status: int = 0,
        reason: int = 0,
        price: int | None = None,
        qty: int | None = None,
        cum: int = 0,
        leaves: int = 0,
        trade: int = 0,
        flags: int = 0,
    ) -> None:
        self.seq += 1
        acct, inst, side, otype, px, q, venue, market = o or [
            c[C_ACCOUNT],
            c[C_INST],
            c[C_SIDE],
            c[C_TYPE],
            c[C_PRICE],
            c[C_QTY],
            c[C_VENUE],
            c[C_MARKET],
        ]
        out.append(
            (
                kind,
                flags,
                venue,
                market,
                acct,
                inst,
                c[C_COID] if coid is None else coid,
                self.seq if kind != r.ORDER_REJECTED else 0,
                px if price is None else price,
                q if qty is None else qty,
                cum,
                leaves,
                0,
                trade,
                now,
                now,
                self.seq,
                reason,
                side,
                r.LIQ_TAKER if trade else 0,
                otype,
                status,
                0,
                ec.SOURCE_ENGINE,
                c[C_SEQ],
            )
        )

    def _one(self, c: tuple, now: int, out: list) -> None:
        kind, coid = c[C_KIND], c[C_COID]
        if kind == r.SUBMIT_ORDER:
            reason = ec.R_NONE
            if c[C_QTY] <= 0 or (c[C_TYPE] == r.ORD_LIMIT and c[C_PRICE] <= 0) or coid == 0:
                reason = ec.R_INVALID_ORDER
            elif coid in self.known:
                reason = ec.R_DUPLICATE_CLIENT_ORDER_ID
            elif c[C_ACCOUNT] in self.halted or ec.SCOPE_ALL in self.halted:
                reason = ec.R_TRADING_HALTED
            if reason:
                self._ev(out, c, r.ORDER_REJECTED, now, status=ec.ST_REJECTED, reason=reason)
                return
            self.known.add(coid)
            if len(self.known) > 2_000_000:
                self.known.clear()
            o = [c[C_ACCOUNT], c[C_INST], c[C_SIDE], c[C_TYPE], c[C_PRICE], c[C_QTY], c[C_VENUE], c[C_MARKET]]
            self._ev(out, c, r.ORDER_ACCEPTED, now, status=ec.ST_ACCEPTED, leaves=c[C_QTY])
            if c[C_TYPE] == r.ORD_LIMIT and c[C_TIF] in (r.TIF_IOC, r.TIF_FOK):
                self.trade += 1
                self._ev(out, c, r.ORDER_FILLED, now, status=ec.ST_FILLED, cum=c[C_QTY], trade=self.trade)
            else:
                self.open[coid] = o
                if len(self.open) > 1_000_000:
                    self.open.pop(next(iter(self.open)))
        elif kind == r.CANCEL_ORDER:
            o = self.open.pop(coid, None)
            if o is None or o[0] != c[C_ACCOUNT]:
                if o is not None:
                    self.open[coid] = o
                self._ev(out, c, r.CANCEL_REJECTED, now, reason=ec.R_UNKNOWN_ORDER)
            else:
                self._ev(out, c, r.ORDER_CANCELED, now, o=o, status=ec.ST_CANCELED, cum=0, leaves=0)
        elif kind == r.MODIFY_ORDER:
            o = self.open.get(coid)
            if o is None or o[0] != c[C_ACCOUNT]:
                self._ev(out, c, r.MODIFY_REJECTED, now, reason=ec.R_UNKNOWN_ORDER)
            else:
                o[4] = c[C_PRICE] or o[4]
                o[5] = c[C_QTY] or o[5]
                self._ev(out, c, r.ORDER_MODIFIED, now, o=o, status=ec.ST_ACCEPTED, leaves=o[5])
        elif kind == r.CANCEL_ALL:
            hit = [
                k
                for k, o in self.open.items()
                if o[0] == c[C_ACCOUNT]
                and (not c[C_INST] or o[1] == c[C_INST])
                and (not c[C_VENUE] or o[6] == c[C_VENUE])
            ]
            for i, k in enumerate(hit):
                o = self.open.pop(k)
                self._ev(
                    out,
                    c,
                    r.ORDER_CANCELED,
                    now,
                    coid=k,
                    o=o,
                    status=ec.ST_CANCELED,
                    flags=r.FLAG_LAST_IN_BATCH if i == len(hit) - 1 else 0,
                )
            if not hit:
                self._ev(out, c, r.ORDER_CANCELED, now, coid=0, flags=r.FLAG_LAST_IN_BATCH)
        elif kind == r.SET_TRADING_STATE:
            scope = c[C_SCOPE]
            if c[C_PARAM_ID] == ec.TS_HALTED:
                self.halted.add(scope)
            else:
                self.halted.discard(scope)
            self._ev(out, c, r.TRADING_STATE_CHANGED, now, reason=0, status=c[C_PARAM_ID])
        elif kind == r.SET_RISK_LIMIT:
            ok = c[C_PARAM_ID] in ec.LIMIT_NAMES
            self._ev(out, c, r.RISK_LIMIT_CHANGED, now, reason=0 if ok else ec.R_UNKNOWN_LIMIT)


def _open(name: str, dtype: np.dtype, capacity: int, *, producer: bool) -> Ring:
    return open_ring(name, dtype, capacity, producer=producer, create=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="FAKE engine answering the gateway's command ring (tests/bench)")
    ap.add_argument("--prefix", required=True)
    ap.add_argument("--seconds", type=float, default=0.0, help="stop after this long (0 = until SIGTERM)")
    args = ap.parse_args(argv)
    stop = False

    def _term(*_: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, _term)
    signal.signal(signal.SIGINT, _term)
    eng = FakeEngine(args.prefix)
    buf = np.zeros(4096, r.COMMAND)
    wait = Backoff(BackoffConfig(spin=100, yields=20, sleep_min_us=20, sleep_max_us=200, pure_spin=False))
    deadline = time.monotonic() + args.seconds if args.seconds else float("inf")
    last_beat = 0.0
    print(f"fake engine ready pid={os.getpid()} prefix={args.prefix}", flush=True)
    while not stop and time.monotonic() < deadline:
        if eng.step(buf):
            wait.reset()
        else:
            wait.idle()
        now = time.monotonic()
        if now - last_beat > 0.1:
            eng.evt.heartbeat()
            last_beat = now
    eng.cmd.close()
    eng.evt.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
