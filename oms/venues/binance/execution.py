"""Binance connector room: order commands → Binance REST, answers and user-stream reports → EVENTs.

Touches the venue through `oms.conn.rest.VenueRest`, the exec ring through the `emit` coroutine it is
given, and the connector journal (oms/conn/journal.py). Rules:

- Wire client id = `oms-<client_order_id>` (`.<n>` appended after the n-th spot cancel-replace), so
  any report maps back to the OMS order without state, and a retry is idempotent at the venue (a
  second `newClientOrderId` still open is refused with -2010 "Duplicate order sent.").
- REST answers give acks (OrderAccepted / Canceled / Modified, or Rejected / CancelRejected /
  ModifyRejected with the venue code in `reason`); fills come only from the user data stream
  (`on_report`), deduplicated by trade id. Repeated accepts/terminals are not re-sent.
- A lost answer (5xx, timeout, connection dropped) is `OutcomeUnknown`: the order is queried by its
  client id once `recvWindow` has passed (a late copy of the request can no longer be accepted), and
  the venue's answer decides — never a blind resend. "Does not exist" then means it never will, and
  the engine gets OrderRejected with -2013.
- USD-M: plain submits that arrive together go out as `batchOrders` of up to 5; STOP / TAKE_PROFIT
  go to the algo endpoint (`clientAlgoId` = our id, which the fired order keeps).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

import numpy as np

from oms import ids, log
from oms.conn.instruments import Inst, Instruments
from oms.conn.journal import Journal, Tracked
from oms.conn.rest import VenueRest
from oms.errors import OutcomeUnknown, Rejected, Transient
from oms.shm import records as R
from oms.venues.binance import futures_controls

_log = log.get(__name__)
VENUE_ID = ids.VENUES["binance"]
CID_PREFIX = "oms-"
BATCH_MAX = 5

# connector-side rejects use the venue's own codes for the same meaning
E_UNKNOWN_SYMBOL = -1121  # instrument not served by this connector
E_BAD_TYPE = -1116  # order type the market does not have
E_NOT_EXIST = -2013  # lost answer resolved: the order is not at the venue
E_UNKNOWN_ORDER = -2011  # cancel/modify for an order we never sent
E_THROTTLED = -1003  # still 429 after the retries

_SPOT_TYPES = {
    R.ORD_LIMIT: "LIMIT",
    R.ORD_MARKET: "MARKET",
    R.ORD_STOP_MARKET: "STOP_LOSS",
    R.ORD_STOP_LIMIT: "STOP_LOSS_LIMIT",
    R.ORD_TAKE_PROFIT_MARKET: "TAKE_PROFIT",
    R.ORD_TAKE_PROFIT_LIMIT: "TAKE_PROFIT_LIMIT",
}
_USDM_TYPES = {
    R.ORD_LIMIT: "LIMIT",
    R.ORD_MARKET: "MARKET",
    R.ORD_STOP_MARKET: "STOP_MARKET",
    R.ORD_STOP_LIMIT: "STOP",
    R.ORD_TAKE_PROFIT_MARKET: "TAKE_PROFIT_MARKET",
    R.ORD_TAKE_PROFIT_LIMIT: "TAKE_PROFIT",
}
_CONDITIONAL = (R.ORD_STOP_MARKET, R.ORD_STOP_LIMIT, R.ORD_TAKE_PROFIT_MARKET, R.ORD_TAKE_PROFIT_LIMIT)
_TIF = {R.TIF_GTC: "GTC", R.TIF_IOC: "IOC", R.TIF_FOK: "FOK", R.TIF_GTX: "GTX"}
_NEEDS_PRICE = {"LIMIT", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT", "STOP", "TAKE_PROFIT", "LIMIT_MAKER"}


def wire_cid(oms_id: int, gen: int = 0) -> str:
    return f"{CID_PREFIX}{oms_id}" if gen == 0 else f"{CID_PREFIX}{oms_id}.{gen}"


def parse_cid(cid: str) -> tuple[int, int] | None:
    """(oms_id, gen) for one of our wire ids, None for anything else (manual / other systems)."""
    if not cid or not cid.startswith(CID_PREFIX):
        return None
    body = cid[len(CID_PREFIX) :]
    head, _, gen = body.partition(".")
    if not head.isdigit() or (gen and not gen.isdigit()):
        return None
    return int(head), int(gen or 0)


def order_params(t: Tracked, inst: Inst) -> dict[str, Any]:
    """Binance REST parameters for a new order (raises Rejected with E_BAD_TYPE for what it lacks)."""
    types = _SPOT_TYPES if t.market == "spot" else _USDM_TYPES
    typ = types.get(t.order_type)
    if typ is None:
        raise Rejected(
            f"order type {t.order_type} is not available on binance {t.market}", code=str(E_BAD_TYPE)
        )
    post_only = bool(t.flags & R.FLAG_POST_ONLY) or t.tif == R.TIF_GTX
    p: dict[str, Any] = {
        "symbol": inst.symbol,
        "side": "BUY" if t.side == R.SIDE_BUY else "SELL",
        "type": typ,
    }
    if t.market == "spot" and typ == "LIMIT" and post_only:
        p["type"] = typ = "LIMIT_MAKER"
    if not (t.flags & R.FLAG_CLOSE_POSITION):
        p["quantity"] = inst.qty(t.qty)
    if typ in _NEEDS_PRICE:
        p["price"] = inst.px(t.price)
    if typ in ("LIMIT", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT", "STOP", "TAKE_PROFIT"):
        tif = R.TIF_GTX if (post_only and t.market == "usdm") else (t.tif or R.TIF_GTC)
        if t.market == "spot" and tif == R.TIF_GTX:
            raise Rejected("spot has no GTX time in force: use FLAG_POST_ONLY (LIMIT_MAKER)", code="-1115")
        p["timeInForce"] = _TIF.get(tif, "GTC")
    if t.order_type in _CONDITIONAL:
        p["stopPrice" if t.market == "spot" else "triggerPrice"] = inst.px(t.trigger)
    if t.market == "usdm":
        if t.flags & R.FLAG_REDUCE_ONLY:
            p["reduceOnly"] = "true"
        if t.flags & R.FLAG_CLOSE_POSITION:
            p["closePosition"] = "true"
        if t.order_type in _CONDITIONAL:
            p["algoType"] = "CONDITIONAL"
            p["clientAlgoId"] = t.cid
        else:
            p["newClientOrderId"] = t.cid
            p["newOrderRespType"] = "RESULT"
    else:
        if t.flags & R.FLAG_REDUCE_ONLY:
            raise Rejected("spot has no reduce-only orders", code="-1106")
        p["newClientOrderId"] = t.cid
        p["newOrderRespType"] = "RESULT"
    return p


def _e8(s: object) -> int:
    try:
        return int(Decimal(str(s)) * R.FEE_SCALE)
    except ArithmeticError:
        return 0


class Executor:
    """Turns COMMAND records into venue requests and venue answers/reports into EVENT records."""

    def __init__(
        self,
        rest: VenueRest,
        instruments: Instruments,
        journal: Journal,
        emit: Callable[[np.ndarray], Awaitable[None]],
        *,
        markets: tuple[str, ...] = ("spot", "usdm"),
    ) -> None:
        self.rest = rest
        self.instruments = instruments
        self.journal = journal
        self._emit = emit
        self.markets = markets
        self.seq = 0
        self.counts: dict[str, int] = {}
        self._locks: dict[int, asyncio.Lock] = {}
        self.tasks: set[asyncio.Task] = set()
        self.ack_ns: deque[int] = deque(maxlen=10_000)
        self._new_acks: list[int] = []

    def _ack(self, ns: int) -> None:
        self.ack_ns.append(ns)
        if len(self._new_acks) < 10_000:
            self._new_acks.append(ns)

    def take_new_acks(self) -> list[int]:
        out, self._new_acks = self._new_acks, []
        return out

    # ---- events ------------------------------------------------------------------------------------
    def _count(self, what: str, n: int = 1) -> None:
        self.counts[what] = self.counts.get(what, 0) + n

    def event(self, kind: int, t: Tracked, *, reason: int = 0, flags: int = 0) -> np.ndarray:
        rec = np.zeros(1, R.EVENT)
        e = rec[0]
        self.seq += 1
        e["kind"] = kind
        e["flags"] = (t.flags & ~R.FLAG_LAST_IN_BATCH) | flags
        e["venue"] = VENUE_ID
        e["market"] = ids.MARKETS[t.market]
        e["account"] = t.account
        e["instrument"] = t.instrument
        e["client_order_id"] = t.oms_id
        e["venue_order_id"] = t.venue_oid
        e["price"] = t.price
        e["qty"] = t.qty
        e["cum_qty"] = t.cum
        e["leaves_qty"] = 0 if t.terminal else max(0, t.qty - t.cum)
        e["ts_ns"] = time.time_ns()
        e["seq"] = self.seq
        e["reason"] = reason
        e["side"] = t.side
        e["order_type"] = t.order_type
        e["source"] = VENUE_ID
        e["ref_seq"] = t.seq
        return rec

    async def emit(self, rec: np.ndarray) -> None:
        await self._emit(rec)
        self._count(R.KIND_NAMES[int(rec[0]["kind"])])

    async def accepted(self, t: Tracked, venue_oid: int = 0, flags: int = 0) -> None:
        if venue_oid:
            t.venue_oid = venue_oid
        if t.accepted:
            return
        t.accepted = True  # before the await: a concurrent report must not send a second accept
        await self.emit(self.event(R.ORDER_ACCEPTED, t, flags=flags))
        self.journal.acked(t)

    async def ended(self, t: Tracked, kind: int, reason: int = 0, flags: int = 0) -> None:
        if t.terminal:
            return
        t.terminal = kind  # leaves 0 in the event
        await self.emit(self.event(kind, t, reason=reason, flags=flags))
        self.journal.ended(t, kind)

    async def fill(
        self, t: Tracked, trade_id: int, px: int, lots: int, fee: int, maker: bool, ts_ms: int, flags: int = 0
    ) -> bool:
        if trade_id in t.trades or lots <= 0:
            if lots > 0:
                self._count("duplicate_fills_dropped")
            return False
        if not t.accepted:
            await self.accepted(t, flags=flags)
        t.trades.add(trade_id)  # before any await: the same trade from stream and replay is sent once
        t.cum += lots
        rec = self.event(R.ORDER_FILLED, t, flags=flags)
        e = rec[0]
        e["price"] = px
        e["qty"] = lots
        e["fee"] = fee
        e["trade_id"] = trade_id
        e["liquidity"] = R.LIQ_MAKER if maker else R.LIQ_TAKER
        e["ts_venue_ns"] = ts_ms * 1_000_000
        await self.emit(rec)
        self.journal.filled(t, trade_id, lots)
        if t.cum >= t.qty > 0 and not t.terminal:
            t.terminal = R.ORDER_FILLED
            self.journal.ended(t, R.ORDER_FILLED)
        return True

    # ---- commands ----------------------------------------------------------------------------------
    def lock(self, oms_id: int) -> asyncio.Lock:
        lk = self._locks.get(oms_id)
        if lk is None:
            lk = self._locks[oms_id] = asyncio.Lock()
        return lk

    def spawn(self, coro: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coro)
        self.tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self._count("command_errors")
            _log.error("command task failed: %r", task.exception(), exc_info=task.exception())

    def dispatch(self, cmds: np.ndarray) -> None:
        """Start the requests for one batch of COMMAND records (USD-M plain submits batched by 5)."""
        if len(self._locks) > 4096:  # forget the locks of ended orders nobody waits on
            for k in [k for k, lk in self._locks.items() if not lk.locked()]:
                t = self.journal.orders.get(k)
                if t is None or t.terminal:
                    del self._locks[k]
        group: list[np.void] = []
        for c in cmds:
            k = int(c["kind"])
            if k == R.SUBMIT_ORDER and self._batchable(c):
                group.append(c)
                if len(group) == BATCH_MAX:
                    self.spawn(self.submit_batch(group))
                    group = []
                continue
            if group:  # keep ring order: a cancel/modify behind a batched submit starts after it
                self.spawn(self.submit(group[0]) if len(group) == 1 else self.submit_batch(group))
                group = []
            if k == R.SUBMIT_ORDER:
                self.spawn(self.submit(c))
            elif k == R.CANCEL_ORDER:
                self.spawn(self.cancel(c))
            elif k == R.MODIFY_ORDER:
                self.spawn(self.modify(c))
            elif k == R.CANCEL_ALL:
                self.spawn(self.cancel_all(c))
            elif k in (R.SET_LEVERAGE, R.SET_MARGIN_MODE):
                self.spawn(futures_controls.handle(c, self.rest.call, self.instruments, self.emit))
            else:
                self._count("ignored_commands")
        if len(group) == 1:
            self.spawn(self.submit(group[0]))
        elif group:
            self.spawn(self.submit_batch(group))

    def _batchable(self, c: np.void) -> bool:
        return int(c["market"]) == ids.MARKETS["usdm"] and int(c["order_type"]) in (R.ORD_LIMIT, R.ORD_MARKET)

    def _track(self, c: np.void) -> tuple[Tracked, Inst | None]:
        inst = self.instruments.get(int(c["instrument"]))
        market = ids.MARKET_NAMES.get(int(c["market"]), "?") if inst is None else inst.market
        t = Tracked(
            oms_id=int(c["client_order_id"]),
            market=market,
            symbol=inst.symbol if inst else "",
            instrument=int(c["instrument"]),
            account=int(c["account"]),
            side=int(c["side"]),
            order_type=int(c["order_type"]),
            tif=int(c["tif"]),
            flags=int(c["flags"]),
            price=int(c["price"]),
            qty=int(c["qty"]),
            trigger=int(c["trigger_price"]),
            seq=int(c["seq"]),
            cid=wire_cid(int(c["client_order_id"])),
            created_ms=int(time.time() * 1000),
        )
        t.algo = t.market == "usdm" and t.order_type in _CONDITIONAL
        return t, inst

    def _known(self, c: np.void) -> bool:
        """A submit for an id we already sent: the engine retried; the venue has (or had) it."""
        t = self.journal.orders.get(int(c["client_order_id"]))
        if t is None:
            return False
        self._count("duplicate_submits")
        return True

    async def _reject_new(self, t: Tracked, code: int, why: str) -> None:
        self._count("rejects")
        _log.info("order %d rejected: %s (%d)", t.oms_id, why, code)
        if t.oms_id not in self.journal.orders:
            self.journal.add(t)
        await self.ended(t, R.ORDER_REJECTED, reason=code)

    async def submit(self, c: np.void) -> None:
        if self._known(c):
            return
        t, inst = self._track(c)
        async with self.lock(t.oms_id):
            if inst is None or inst.market not in self.markets:
                await self._reject_new(t, E_UNKNOWN_SYMBOL, f"instrument {t.instrument} not served here")
                return
            try:
                params = order_params(t, inst)
            except Rejected as e:
                await self._reject_new(t, int(e.code or E_BAD_TYPE), e.message)
                return
            self.journal.add(t)  # before sending: a crash mid-request is then resolved by query
            t0 = time.perf_counter_ns()
            method = (
                "create_order"
                if t.market == "spot"
                else "futures_create_algo_order"
                if t.algo
                else "futures_create_order"
            )
            try:
                res = await self.rest.call(
                    t.market,
                    method,
                    weight=1 if t.market == "spot" else 0 if t.algo else 1,
                    orders=1,
                    **params,
                )
            except Rejected as e:
                await self._reject_new(t, _code(e), e.message)
                return
            except Transient as e:
                await self._reject_new(t, _code(e, E_THROTTLED), e.message)
                return
            except OutcomeUnknown as e:
                _log.warning("order %d: %s; resolving by query", t.oms_id, e)
                await self.resolve(t, sent_at=time.time())
                return
            self._ack(time.perf_counter_ns() - t0)
            await self._on_new_answer(t, res)

    async def submit_batch(self, cmds: list[np.void]) -> None:
        tracked: list[tuple[Tracked, dict[str, Any]]] = []
        rejects: list[tuple[Tracked, int, str]] = []
        for c in cmds:
            if self._known(c):
                continue
            t, inst = self._track(c)
            if inst is None or inst.market != "usdm" or "usdm" not in self.markets:
                rejects.append((t, E_UNKNOWN_SYMBOL, f"instrument {t.instrument} not served here"))
                continue
            try:
                tracked.append((t, order_params(t, inst)))
            except Rejected as e:
                rejects.append((t, _code(e, E_BAD_TYPE), e.message))
        async with contextlib.AsyncExitStack() as stack:
            # locks and journal entries before the first await: a cancel behind us in the ring
            # must find the order and wait for its answer
            for t, _ in tracked:
                await stack.enter_async_context(self.lock(t.oms_id))
                self.journal.add(t)
            for t, code, why in rejects:
                await self._reject_new(t, code, why)
            if len(tracked) == 1:  # a lone order goes the plain way (a batch of one costs 5 weight)
                await self._single(*tracked[0])
            elif tracked:
                await self._send_batch(tracked)

    async def _send_batch(self, tracked: list[tuple[Tracked, dict[str, Any]]]) -> None:
        t0 = time.perf_counter_ns()
        self._count("batches")
        try:
            res = await self.rest.call(
                "usdm",
                "futures_place_batch_order",
                weight=5,
                orders=len(tracked),
                batchOrders=[p for _, p in tracked],
            )
        except (Rejected, Transient) as e:
            for t, _ in tracked:
                await self._reject_new(t, _code(e, E_THROTTLED), e.message)
            return
        except OutcomeUnknown as e:
            _log.warning("batch of %d: %s; resolving each by query", len(tracked), e)
            sent = time.time()
            await asyncio.gather(*(self.resolve(t, sent_at=sent) for t, _ in tracked))
            return
        dt = time.perf_counter_ns() - t0
        for (t, _), r in zip(tracked, res, strict=False):
            if isinstance(r, dict) and "code" in r and "orderId" not in r:
                await self._reject_new(t, int(r["code"]), str(r.get("msg", "")))
            else:
                self._ack(dt)
                await self._on_new_answer(t, r)

    async def _single(self, t: Tracked, params: dict[str, Any]) -> None:
        """One USD-M order (the caller holds its lock and journaled it)."""
        t0 = time.perf_counter_ns()
        try:
            res = await self.rest.call("usdm", "futures_create_order", weight=1, orders=1, **params)
        except (Rejected, Transient) as e:
            await self._reject_new(t, _code(e, E_THROTTLED), e.message)
            return
        except OutcomeUnknown:
            await self.resolve(t, sent_at=time.time())
            return
        self._ack(time.perf_counter_ns() - t0)
        await self._on_new_answer(t, res)

    async def _on_new_answer(self, t: Tracked, res: dict[str, Any], flags: int = 0) -> None:
        """A REST answer (new order or query) for an order we sent."""
        if "algoId" in res and "orderId" not in res:  # futures conditional order
            st = str(res.get("algoStatus", "NEW"))
            oid = int(res.get("actualOrderId") or 0) or int(res["algoId"])
            if st in ("CANCELED", "EXPIRED", "REJECTED"):
                await self.accepted(t, oid, flags)
                await self.ended(
                    t,
                    R.ORDER_CANCELED
                    if st == "CANCELED"
                    else R.ORDER_EXPIRED
                    if st == "EXPIRED"
                    else R.ORDER_REJECTED,
                    flags=flags,
                )
            else:
                await self.accepted(t, oid, flags)
            return
        st = str(res.get("status", "NEW"))
        oid = int(res.get("orderId") or 0)
        executed = Decimal(str(res.get("executedQty", "0")))
        if st == "REJECTED":
            await self.ended(t, R.ORDER_REJECTED, flags=flags)
            return
        await self.accepted(t, oid, flags)
        if executed == 0 and st in ("CANCELED", "EXPIRED", "EXPIRED_IN_MATCH"):
            await self.ended(t, R.ORDER_CANCELED if st == "CANCELED" else R.ORDER_EXPIRED, flags=flags)
        # fills (and terminal states after fills) arrive on the user data stream

    async def query(self, t: Tracked) -> dict[str, Any] | None:
        """The venue's view of one order by client id; None when it does not exist."""
        try:
            if t.market == "spot":
                return await self.rest.call(
                    "spot", "get_order", weight=4, symbol=t.symbol, origClientOrderId=t.cid
                )
            if t.algo:
                try:
                    a = await self.rest.call(
                        "usdm", "futures_get_algo_order", symbol=t.symbol, clientAlgoId=t.cid
                    )
                except Rejected as e:
                    if _code(e) not in (-2013, -2011):
                        raise
                    a = None
                if a is not None and not a.get("actualOrderId"):
                    return a
            return await self.rest.call("usdm", "futures_get_order", symbol=t.symbol, origClientOrderId=t.cid)
        except Rejected as e:
            if _code(e) in (-2013, -2011):
                return None
            raise

    async def resolve(self, t: Tracked, sent_at: float, flags: int = 0) -> None:
        """OutcomeUnknown → ask the venue (after recvWindow, so a late copy cannot land later)."""
        self._count("outcome_unknown")
        wait = sent_at + self.rest.recv_window_ms / 1000 + 0.05 - time.time()
        delay = 0.2
        for attempt in range(20):
            if attempt == 0 and wait > 0:
                # early look: the user stream may already have told us
                res = await self._query_quiet(t)
                if res is not None:
                    await self._on_new_answer(t, res, flags)
                    self._count("resolved_placed")
                    return
                await asyncio.sleep(max(0.0, sent_at + self.rest.recv_window_ms / 1000 + 0.05 - time.time()))
            if t.accepted or t.terminal:
                self._count("resolved_placed")
                return
            try:
                res = await self.query(t)
            except (OutcomeUnknown, Transient) as e:
                _log.warning("order %d: query failed (%s); retrying in %.1fs", t.oms_id, e, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
                continue
            except Rejected as e:  # the query itself was refused: that says nothing about the order
                _log.warning("order %d: query refused (%s); retrying in %.1fs", t.oms_id, e, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
                continue
            if res is None:
                self._count("resolved_absent")
                await self._reject_new(t, E_NOT_EXIST, "lost answer; the venue has no such order")
            else:
                self._count("resolved_placed")
                await self._on_new_answer(t, res, flags)
            return
        _log.error(
            "order %d: outcome still unknown after 20 queries; reconciliation will settle it", t.oms_id
        )

    async def _query_quiet(self, t: Tracked) -> dict[str, Any] | None:
        try:
            return await self.query(t)
        except (OutcomeUnknown, Transient, Rejected):
            return None

    async def cancel(self, c: np.void) -> None:
        oms_id = int(c["client_order_id"]) or int(c["ref_id"])
        t = self.journal.orders.get(oms_id)
        if t is None:
            tmp, _ = self._track(c)
            self._count("cancel_rejects")
            await self.emit(self.event(R.CANCEL_REJECTED, tmp, reason=E_UNKNOWN_ORDER))
            return
        async with self.lock(oms_id):
            await self._cancel(t)

    async def _cancel(self, t: Tracked) -> None:
        if t.terminal:
            self._count("cancel_rejects")
            await self.emit(self.event(R.CANCEL_REJECTED, t, reason=-2011))
            return
        for attempt in range(3):
            try:
                if t.market == "spot":
                    res = await self.rest.call(
                        "spot", "cancel_order", symbol=t.symbol, origClientOrderId=t.cid
                    )
                elif t.algo:
                    try:
                        res = await self.rest.call(
                            "usdm", "futures_cancel_algo_order", symbol=t.symbol, clientAlgoId=t.cid
                        )
                        res = {"status": "CANCELED"}
                    except Rejected as e:
                        if _code(e) != -2011:
                            raise
                        res = await self.rest.call(
                            "usdm", "futures_cancel_order", symbol=t.symbol, origClientOrderId=t.cid
                        )
                else:
                    res = await self.rest.call(
                        "usdm", "futures_cancel_order", symbol=t.symbol, origClientOrderId=t.cid
                    )
            except Rejected as e:
                if t.terminal:  # the user stream ended it meanwhile (filled / canceled)
                    return
                self._count("cancel_rejects")
                await self.emit(self.event(R.CANCEL_REJECTED, t, reason=_code(e)))
                return
            except (OutcomeUnknown, Transient) as e:
                # a cancel is idempotent at the venue: asking again is safe (-2011 once it is gone)
                _log.warning("cancel %d: %s (attempt %d)", t.oms_id, e, attempt + 1)
                q = await self._query_quiet(t)
                if q is not None and str(q.get("status", q.get("algoStatus", ""))) == "CANCELED":
                    res = q
                else:
                    await asyncio.sleep(0.2 * (attempt + 1))
                    continue
            if int(res.get("orderId") or 0):
                t.venue_oid = int(res["orderId"])
            st = str(res.get("status", "CANCELED"))
            if st in ("CANCELED", "EXPIRED") or "cancelResult" not in res:
                await self.ended(t, R.ORDER_CANCELED)
            return
        self._count("cancel_rejects")
        await self.emit(self.event(R.CANCEL_REJECTED, t, reason=-1001))

    async def modify(self, c: np.void) -> None:
        oms_id = int(c["client_order_id"]) or int(c["ref_id"])
        t = self.journal.orders.get(oms_id)
        if t is None:
            tmp, _ = self._track(c)
            await self.emit(self.event(R.MODIFY_REJECTED, tmp, reason=E_UNKNOWN_ORDER))
            return
        async with self.lock(oms_id):
            await self._modify(t, int(c["price"]) or t.price, int(c["qty"]) or t.qty)

    async def _modify(self, t: Tracked, price: int, qty: int) -> None:
        inst = self.instruments.get(t.instrument)
        if t.terminal or inst is None:
            await self.emit(self.event(R.MODIFY_REJECTED, t, reason=-2011 if inst else E_UNKNOWN_SYMBOL))
            return
        side = "BUY" if t.side == R.SIDE_BUY else "SELL"
        try:
            if t.market == "usdm":
                res = await self.rest.call(
                    "usdm",
                    "futures_modify_order",
                    orders=1,
                    symbol=t.symbol,
                    origClientOrderId=t.cid,
                    side=side,
                    quantity=inst.qty(qty),
                    price=inst.px(price),
                )
                self.journal.modified(t, t.cid, t.gen, price, qty, int(res.get("orderId") or t.venue_oid))
            else:
                new_cid = wire_cid(t.oms_id, t.gen + 1)
                self.journal.by_cid[new_cid] = t.oms_id  # reports for the new id may beat the answer
                t.old_cids.add(t.cid)  # its CANCELED report is part of the replace, not an end
                res = await self.rest.call(
                    "spot",
                    "cancel_replace_order",
                    orders=1,
                    symbol=t.symbol,
                    side=side,
                    type="LIMIT",
                    timeInForce=_TIF.get(t.tif or R.TIF_GTC, "GTC"),
                    cancelReplaceMode="STOP_ON_FAILURE",
                    cancelOrigClientOrderId=t.cid,
                    newClientOrderId=new_cid,
                    quantity=inst.qty(qty),
                    price=inst.px(price),
                    newOrderRespType="RESULT",
                )
                new = res.get("newOrderResponse") or {}
                self.journal.modified(t, new_cid, t.gen + 1, price, qty, int(new.get("orderId") or 0))
        except Rejected as e:
            if t.market == "spot":
                t.old_cids.discard(t.cid)
            await self.emit(self.event(R.MODIFY_REJECTED, t, reason=_code(e)))
            return
        except (OutcomeUnknown, Transient) as e:
            _log.warning("modify %d: %s; asking the venue", t.oms_id, e)
            q = await self._query_quiet(t)
            if q is None and t.market == "spot":  # the replace may have produced the new order
                q = await self._query_spot_cid(t.symbol, wire_cid(t.oms_id, t.gen + 1))
                if q is not None:
                    self.journal.modified(
                        t, wire_cid(t.oms_id, t.gen + 1), t.gen + 1, price, qty, int(q.get("orderId") or 0)
                    )
            if (
                q is not None
                and Decimal(str(q.get("origQty", "0"))) == Decimal(inst.qty(qty))
                and Decimal(str(q.get("price", "0"))) == Decimal(inst.px(price))
            ):
                t.price, t.qty = price, qty
            else:
                await self.emit(self.event(R.MODIFY_REJECTED, t, reason=-1001))
                return
        self._count("modified")
        await self.emit(self.event(R.ORDER_MODIFIED, t))

    async def _query_spot_cid(self, symbol: str, cid: str) -> dict[str, Any] | None:
        try:
            return await self.rest.call("spot", "get_order", weight=4, symbol=symbol, origClientOrderId=cid)
        except (Rejected, OutcomeUnknown, Transient):
            return None

    async def cancel_all(self, c: np.void) -> None:
        inst_id = int(c["instrument"])
        market = ids.MARKET_NAMES.get(int(c["market"]), "")
        targets = [
            t
            for t in self.journal.open_orders()
            if (inst_id == 0 or t.instrument == inst_id)
            and (not market or inst_id or t.market == market)
            and (int(c["account"]) == 0 or t.account == int(c["account"]))
        ]
        self._count("cancel_all")
        await asyncio.gather(*(self._locked_cancel(t) for t in targets))

    async def _locked_cancel(self, t: Tracked) -> None:
        async with self.lock(t.oms_id):
            await self._cancel(t)

    # ---- user data stream reports ------------------------------------------------------------------
    async def on_report(self, r: dict[str, Any], flags: int = 0) -> None:
        """One normalised execution report (see user_stream.normalise), or a leverage change."""
        if "account_config" in r:
            self.spawn(
                futures_controls.on_config_update(
                    r["account_config"], self.rest.call, self.instruments, self.emit
                )
            )
            return
        t = self.journal.find_cid(r["cid"])
        if t is None:
            parsed = parse_cid(r["cid"])
            if parsed is None:
                self._count("foreign_reports")
                return
            t = self.journal.orders.get(parsed[0])
            if t is None:
                self._count("unknown_order_reports")
                _log.warning("report for our id %s that the journal does not know", r["cid"])
                return
        x = r["exec_type"]
        if r["order_id"]:
            t.venue_oid = r["order_id"]
        if x == "TRADE":
            inst = self.instruments.get(t.instrument)
            if inst is None:
                return
            await self.fill(
                t,
                r["trade_id"],
                inst.to_ticks(r["last_px"]),
                inst.to_lots(r["last_qty"]),
                _e8(r["fee"]),
                r["maker"],
                r["ts"],
                flags,
            )
            if r["status"] == "FILLED" and not t.terminal:
                t.terminal = R.ORDER_FILLED
                self.journal.ended(t, R.ORDER_FILLED)
        elif x == "NEW":
            if t.algo and t.accepted and not t.fired:
                t.fired = True  # the venue placed the order its trigger released
                self._count("triggered")
                await self.emit(self.event(R.ORDER_TRIGGERED, t, flags=flags))
            await self.accepted(t, r["order_id"], flags)
        elif x in ("CANCELED", "EXPIRED", "EXPIRED_IN_MATCH", "REJECTED"):
            if r["cid"] in t.old_cids:
                return  # the cancel half of our own cancel-replace
            if x == "REJECTED":
                await self.ended(t, R.ORDER_REJECTED, reason=_reason_code(r), flags=flags)
            elif x == "CANCELED":
                await self.ended(t, R.ORDER_CANCELED, flags=flags)
            else:
                await self.ended(t, R.ORDER_EXPIRED, flags=flags)
        # AMENDMENT / REPLACED / TRADE_PREVENTION: the REST answer already said it


def _code(e: Exception, default: int = -1000) -> int:
    try:
        return int(getattr(e, "code", None) or default)
    except ValueError:
        return default


def _reason_code(r: dict[str, Any]) -> int:
    return -2010 if r.get("reject_reason") not in (None, "", "NONE") else 0
