"""Backtest room: the simulated venue — fills the engine's venue-bound COMMANDs against the tape.

Touches only its own order book of resting orders. The venue sees the market only through the tape
records it is given (`on_market`), at the time they are given; commands arrive after the
engine→venue latency, so an order is matched against the market as it was when it would really
arrive. Rules (every price in ticks, qty in lots):

- Market order: fills its whole qty at the touch (buy at the ask, sell at the bid) moved
  `slippage_ticks` against the taker; taker fee. No touch yet → OrderRejected (R_NO_MARKET).
- Limit order: marketable on arrival (buy px >= ask, sell px <= bid) → fills at the touch as taker
  (post-only → OrderRejected R_POST_ONLY); otherwise it rests (OrderAccepted), IOC/FOK rests never
  (OrderCanceled). A resting order fills at its own price as maker when the tape crosses it: a BBO
  whose opposite side is through the price (ask < buy px / bid > sell px) fills the rest, a trade
  through the price fills min(trade qty, leaves). `touch=True` also fills when the tape only
  touches the price (ask == buy px, trade at the price) — optimistic about queue position.
- Cancel/Modify of a resting order → OrderCanceled / OrderModified (a modify that becomes
  marketable fills as taker); of an unknown/finished order → CancelRejected / ModifyRejected.
- Fee = notional × rate from the tape's instrument (maker_fee / taker_fee), rounded half-up to
  1e-8 quote units (negative rate = rebate). Depth is not modelled: the touch has unlimited size.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction

import numpy as np

from oms.backtest.tape import TapeInstrument
from oms.shm import records as R

# venue reject / cancel reason codes of the simulated venue (EVENT.reason)
R_UNSUPPORTED = 9001  # order type the simulated venue does not take natively
R_NO_MARKET = 9002  # market order before any BBO of the instrument
R_POST_ONLY = 9003  # post-only order would have taken liquidity
R_UNKNOWN_ORDER = 9004  # cancel/modify of an order that is not resting
R_IOC = 9005  # IOC/FOK remainder canceled
REASONS = {
    R_UNSUPPORTED: "sim.unsupported_order_type",
    R_NO_MARKET: "sim.no_market",
    R_POST_ONLY: "sim.post_only_would_take",
    R_UNKNOWN_ORDER: "sim.unknown_order",
    R_IOC: "sim.ioc_remainder",
}


@dataclass(slots=True)
class Resting:
    cmd: np.void  # the SubmitOrder (a copy), fields read on fill
    price: int
    qty: int
    cum: int = 0
    venue_order_id: int = 0


@dataclass(slots=True)
class _Fees:
    maker: Fraction
    taker: Fraction
    mult: int
    div: int


@dataclass
class SimVenue:
    instruments: dict[int, TapeInstrument]
    slippage_ticks: int = 0
    touch: bool = False
    bid: dict[int, int] = field(default_factory=dict)
    ask: dict[int, int] = field(default_factory=dict)
    book: dict[int, dict[int, Resting]] = field(default_factory=dict)  # instrument → coid → order
    _fees: dict[int, _Fees] = field(default_factory=dict)
    _trade_id: int = 0
    _venue_id: int = 0
    fills: int = 0
    # the touch after each tape record, per instrument (attach_tape), so the replay loop need not call
    # on_market while nothing rests here; `synced` = tape records already reflected in bid/ask
    _tape_touch: dict[int, tuple[list[int], list[int]]] = field(default_factory=dict)
    synced: int = 0

    def __post_init__(self) -> None:
        for i, inst in self.instruments.items():
            spec = inst.spec()
            self._fees[i] = _Fees(
                Fraction(Decimal(inst.maker_fee)), Fraction(Decimal(inst.taker_fee)), spec.mult, spec.div
            )

    # ---- building events ---------------------------------------------------------------------
    def _ev(self, kind: int, cmd: np.void, now: int, reason: int = 0) -> np.void:
        e = np.zeros(1, R.EVENT)[0]
        e["kind"] = kind
        for k in ("venue", "market", "account", "instrument", "client_order_id", "side", "order_type"):
            e[k] = cmd[k]
        e["price"] = cmd["price"]
        e["qty"] = cmd["qty"]
        e["reason"] = reason
        e["ts_venue_ns"] = now
        e["ts_ns"] = now
        return e

    def fee(self, instrument: int, price: int, qty: int, maker: bool) -> int:
        f = self._fees.get(instrument)
        if f is None:
            return 0
        rate = f.maker if maker else f.taker
        x = Fraction(price * qty * f.mult, f.div) * rate
        return int(x + Fraction(1, 2)) if x >= 0 else -int(-x + Fraction(1, 2))

    def _fill(self, cmd: np.void, px: int, qty: int, now: int, maker: bool, vid: int) -> np.void:
        self._trade_id += 1
        self.fills += 1
        e = self._ev(R.ORDER_FILLED, cmd, now)
        e["price"] = px
        e["qty"] = qty
        e["trade_id"] = self._trade_id
        e["venue_order_id"] = vid
        e["liquidity"] = R.LIQ_MAKER if maker else R.LIQ_TAKER
        e["fee"] = self.fee(int(cmd["instrument"]), px, qty, maker)
        return e

    # ---- commands from the engine ------------------------------------------------------------
    def on_command(self, cmd: np.void, now: int) -> list[np.void]:
        k = int(cmd["kind"])
        if k == R.SUBMIT_ORDER:
            return self._submit(cmd.copy(), now)
        if k == R.CANCEL_ORDER:
            return self._cancel(int(cmd["ref_id"] or cmd["client_order_id"]), cmd, now)
        if k == R.MODIFY_ORDER:
            return self._modify(cmd, now)
        if k == R.CANCEL_ALL:
            out: list[np.void] = []
            for i, orders in self.book.items():
                if cmd["instrument"] in (0, i):
                    for coid, o in list(orders.items()):
                        if cmd["account"] in (0, o.cmd["account"]):
                            out += self._cancel(coid, o.cmd, now)
            return out
        return []

    def _marketable(self, i: int, side: int, px: int, touch: bool = True) -> int:
        """The touch price a limit at px would take now, or 0."""
        if side == R.SIDE_BUY:
            a = self.ask.get(i, 0)
            return a if a and (px > a or (touch and px == a)) else 0
        b = self.bid.get(i, 0)
        return b if b and (px < b or (touch and px == b)) else 0

    def _submit(self, cmd: np.void, now: int) -> list[np.void]:
        i, side, qty = int(cmd["instrument"]), int(cmd["side"]), int(cmd["qty"])
        t = int(cmd["order_type"])
        self._venue_id += 1
        vid = self._venue_id
        if t == R.ORD_MARKET:
            touch = self.ask.get(i, 0) if side == R.SIDE_BUY else self.bid.get(i, 0)
            if not touch:
                return [self._ev(R.ORDER_REJECTED, cmd, now, R_NO_MARKET)]
            acc = self._ev(R.ORDER_ACCEPTED, cmd, now)
            acc["venue_order_id"] = vid
            return [acc, self._fill(cmd, touch + side * self.slippage_ticks, qty, now, False, vid)]
        if t != R.ORD_LIMIT:
            return [self._ev(R.ORDER_REJECTED, cmd, now, R_UNSUPPORTED)]
        px = int(cmd["price"])
        take = self._marketable(i, side, px)
        post_only = cmd["tif"] == R.TIF_GTX or (int(cmd["flags"]) & R.FLAG_POST_ONLY)
        if take and post_only:
            return [self._ev(R.ORDER_REJECTED, cmd, now, R_POST_ONLY)]
        acc = self._ev(R.ORDER_ACCEPTED, cmd, now)
        acc["venue_order_id"] = vid
        if take:
            return [acc, self._fill(cmd, take, qty, now, False, vid)]
        if cmd["tif"] in (R.TIF_IOC, R.TIF_FOK):
            return [acc, self._ev(R.ORDER_CANCELED, cmd, now, R_IOC)]
        self.book.setdefault(i, {})[int(cmd["client_order_id"])] = Resting(cmd, px, qty, 0, vid)
        return [acc]

    def _cancel(self, coid: int, cmd: np.void, now: int) -> list[np.void]:
        for orders in self.book.values():
            o = orders.pop(coid, None)
            if o is not None:
                e = self._ev(R.ORDER_CANCELED, o.cmd, now)
                e["venue_order_id"] = o.venue_order_id
                e["cum_qty"] = o.cum
                return [e]
        e = self._ev(R.CANCEL_REJECTED, cmd, now, R_UNKNOWN_ORDER)
        e["client_order_id"] = coid
        return [e]

    def _modify(self, cmd: np.void, now: int) -> list[np.void]:
        coid = int(cmd["ref_id"] or cmd["client_order_id"])
        for i, orders in self.book.items():
            o = orders.get(coid)
            if o is None:
                continue
            if cmd["price"] > 0:
                o.price = int(cmd["price"])
                o.cmd["price"] = o.price
            if cmd["qty"] > 0:
                o.qty = max(int(cmd["qty"]), o.cum)
                o.cmd["qty"] = o.qty
            e = self._ev(R.ORDER_MODIFIED, o.cmd, now)
            e["venue_order_id"] = o.venue_order_id
            out = [e]
            take = self._marketable(i, int(o.cmd["side"]), o.price)
            if o.qty == o.cum:
                del orders[coid]
            elif take:
                del orders[coid]
                out.append(self._fill(o.cmd, take, o.qty - o.cum, now, False, o.venue_order_id))
            return out
        e = self._ev(R.MODIFY_REJECTED, cmd, now, R_UNKNOWN_ORDER)
        e["client_order_id"] = coid
        return [e]

    # ---- market data -------------------------------------------------------------------------
    def attach_tape(self, recs: np.ndarray) -> None:
        """Precompute the touch after every record of the tape the runner replays (see sync)."""
        kind, inst = recs["kind"], recs["instrument"]
        px, apx = recs["price"].astype(np.int64), recs["ask_price"].astype(np.int64)
        self._tape_touch = {}
        for i in np.unique(inst[kind == R.MD_BBO]).tolist():
            bbo = (kind == R.MD_BBO) & (inst == i)
            self._tape_touch[i] = (_ffill(px, bbo & (px > 0)), _ffill(apx, bbo & (apx > 0)))
        self.synced = 0

    def sync(self, upto: int) -> None:
        """bid/ask as on_market would have left them after tape records [0, upto): the records the
        runner did not hand over (nothing rested) changed nothing but the touch."""
        if upto <= self.synced or not self._tape_touch:
            return
        j = upto - 1
        for i, (bids, asks) in self._tape_touch.items():
            if bids[j] > 0:
                self.bid[i] = bids[j]
            if asks[j] > 0:
                self.ask[i] = asks[j]
        self.synced = upto

    def on_market(self, rec: np.void, now: int) -> list[np.void]:
        i, k = int(rec["instrument"]), int(rec["kind"])
        if k == R.MD_BBO:
            if rec["price"] > 0:
                self.bid[i] = int(rec["price"])
            if rec["ask_price"] > 0:
                self.ask[i] = int(rec["ask_price"])
        orders = self.book.get(i)
        if not orders:
            return []
        out: list[np.void] = []
        if k == R.MD_BBO:
            bid, ask = self.bid.get(i, 0), self.ask.get(i, 0)
            for coid, o in list(orders.items()):
                side = int(o.cmd["side"])
                opp = ask if side == R.SIDE_BUY else bid
                if opp and (side * (o.price - opp) > 0 or (self.touch and o.price == opp)):
                    out.append(self._fill(o.cmd, o.price, o.qty - o.cum, now, True, o.venue_order_id))
                    del orders[coid]
        elif k == R.MD_TRADE:
            tp, tq = int(rec["price"]), int(rec["qty"])
            for coid, o in list(orders.items()):
                if tq <= 0:
                    break
                side = int(o.cmd["side"])
                if side * (o.price - tp) > 0 or (self.touch and o.price == tp):
                    q = min(tq, o.qty - o.cum)
                    tq -= q
                    o.cum += q
                    out.append(self._fill(o.cmd, o.price, q, now, True, o.venue_order_id))
                    if o.cum == o.qty:
                        del orders[coid]
        return out

    def resting(self) -> int:
        return sum(len(v) for v in self.book.values())


def _ffill(vals: np.ndarray, valid: np.ndarray) -> list[int]:
    """vals[last valid index <= j] for every j (0 before the first valid one), as Python ints."""
    idx = np.where(valid, np.arange(len(vals)), -1)
    np.maximum.accumulate(idx, out=idx)
    return np.where(idx >= 0, vals[np.maximum(idx, 0)], 0).tolist()
