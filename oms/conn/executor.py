"""Connector room: order commands → the venue adapter's execution client, answers and reports → EVENTs.

Venue-neutral: every venue's wire lives in its adapter (`oms.venues.interface.ExecutionClient`); this
owns the policy every venue shares. Touches the exec ring through the `emit` coroutine it is given and
the connector journal (oms/conn/journal.py).

- Write-ahead: `dispatch()` journals every submit before it returns, and the pump releases the command
  ring's slots only after `dispatch()` returned (oms/conn/pump.py), so a command whose slot is free is
  in the journal; a journaled order without an answer is resolved by query at the next start
  (oms/conn/reconcile.py), never resent.
- REST answers give acks (OrderAccepted / Canceled / Modified, or Rejected / CancelRejected /
  ModifyRejected with the venue code in `reason`); fills come from the user data stream (`on_report`)
  and reconciliation, deduplicated by trade id. Repeated accepts/terminals are not re-sent.
- A lost answer (`OutcomeUnknown`: 5xx, timeout, dropped connection, or a code the venue's error table
  calls outcome-unknown whatever its HTTP status) is resolved by query after `recvWindow` (a late copy
  of the request can no longer be accepted): the venue's answer decides — never a blind resend.
  "Does not exist" then means it never will: OrderRejected with E_NOT_EXIST.
- Submits the adapter calls batchable go out together, up to the market's `max_batch`.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections import deque
from collections.abc import Awaitable, Callable
from decimal import Decimal

import numpy as np

from oms import ids, log
from oms.conn.instruments import Inst, Instruments
from oms.conn.journal import Journal, Tracked
from oms.conn.rest import VenueRest
from oms.errors import OmsError, OutcomeUnknown, Rejected, Transient
from oms.shm import records as R
from oms.venues.interface import ExecReport, OrderAnswer, OrderRef, VenueAdapter, VenueNotice

_log = log.get(__name__)

# connector-side rejects (EVENT.reason): one numbering for every venue (the reference venue's codes)
E_UNKNOWN_SYMBOL = -1121  # instrument not served by this connector
E_BAD_TYPE = -1116  # order type the market does not have
E_NOT_EXIST = -2013  # lost answer resolved: the order is not at the venue
E_UNKNOWN_ORDER = -2011  # cancel/modify for an order we never sent (or that ended)
E_THROTTLED = -1003  # still throttled after retries
E_UNSETTLED = -1001  # cancel/modify whose outcome could not be learned

_END = {"canceled": R.ORDER_CANCELED, "expired": R.ORDER_EXPIRED, "rejected": R.ORDER_REJECTED}


def _e8(s: object) -> int:
    try:
        return int(Decimal(str(s)) * R.FEE_SCALE)
    except ArithmeticError:
        return 0


def code_of(e: Exception, default: int = -1000) -> int:
    try:
        return int(getattr(e, "code", None) or default)
    except ValueError:
        return default


def order_ref(t: Tracked, inst: Inst | None) -> OrderRef:
    """The adapter's view of a journaled order: prices and quantities as decimal strings on the grid."""
    px = (lambda v: inst.px(v) if v else "0") if inst else (lambda v: "0")
    return OrderRef(
        oms_id=t.oms_id,
        market=t.market,
        symbol=t.symbol,
        cid=t.cid,
        side=t.side,
        order_type=t.order_type,
        tif=t.tif,
        flags=t.flags,
        price=px(t.price),
        qty=inst.qty(t.qty) if inst else "0",
        trigger=px(t.trigger),
        conditional=t.algo,
        venue_oid=t.venue_oid,
    )


class Executor:
    """Turns COMMAND records into adapter calls and venue answers/reports into EVENT records."""

    def __init__(
        self,
        adapter: VenueAdapter,
        rest: VenueRest,
        instruments: Instruments,
        journal: Journal,
        emit: Callable[[np.ndarray], Awaitable[None]],
        *,
        markets: tuple[str, ...],
    ) -> None:
        self.adapter = adapter
        self.x = adapter.execution
        self.rest = rest
        self.instruments = instruments
        self.journal = journal
        self._emit = emit
        self.markets = markets
        self.venue_id = ids.venue_id(adapter.name)
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

    def _count(self, what: str, n: int = 1) -> None:
        self.counts[what] = self.counts.get(what, 0) + n

    # ---- order views -------------------------------------------------------------------------------
    def ref(self, t: Tracked, inst: Inst | None = None) -> OrderRef:
        return order_ref(t, inst or self.instruments.get(t.instrument))

    # ---- events ------------------------------------------------------------------------------------
    def event(self, kind: int, t: Tracked, *, reason: int = 0, flags: int = 0) -> np.ndarray:
        rec = np.zeros(1, R.EVENT)
        e = rec[0]
        self.seq += 1
        e["kind"] = kind
        e["flags"] = (t.flags & ~R.FLAG_LAST_IN_BATCH) | flags
        e["venue"] = self.venue_id
        e["market"] = ids.MARKETS.get(t.market, 0)
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
        e["source"] = self.venue_id
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

    # ---- dispatch ----------------------------------------------------------------------------------
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
        """Journal and start the requests for one batch of COMMAND records. Every submit is in the
        journal when this returns (the caller releases the ring slots after it)."""
        if len(self._locks) > 4096:  # forget the locks of ended orders nobody waits on
            for k in [k for k, lk in self._locks.items() if not lk.locked()]:
                t = self.journal.orders.get(k)
                if t is None or t.terminal:
                    del self._locks[k]
        group: list[tuple[Tracked, Inst]] = []
        for c in cmds:
            k = int(c["kind"])
            if k == R.SUBMIT_ORDER:
                item = self._admit(c)
                if item is None:
                    continue
                t, inst, why = item
                if why:
                    self.spawn(self._reject_new(t, why[0], why[1]))
                    continue
                cap = self.adapter.capabilities[t.market].max_batch
                if cap > 1 and self.x.batchable(self.ref(t, inst)):
                    if group and group[0][0].market != t.market:
                        self._flush(group)
                        group = []
                    group.append((t, inst))
                    if len(group) >= cap:
                        self._flush(group)
                        group = []
                    continue
                self._flush(group)
                group = []
                self.spawn(self.submit(t, inst))
                continue
            # keep ring order: a cancel/modify behind a batched submit starts after it
            self._flush(group)
            group = []
            if k == R.CANCEL_ORDER:
                self._want_cancel(c)
                self.spawn(self.cancel(c))
            elif k == R.MODIFY_ORDER:
                self.spawn(self.modify(c))
            elif k == R.CANCEL_ALL:
                self.spawn(self.cancel_all(c))
            else:
                self.spawn(self._control(c))
        self._flush(group)

    def _flush(self, group: list[tuple[Tracked, Inst]]) -> None:
        if len(group) == 1:  # a lone order goes the plain way (a batch costs more weight)
            self.spawn(self.submit(*group[0]))
        elif group:
            self.spawn(self.submit_batch(group))

    def _want_cancel(self, c: np.void) -> None:
        t = self.journal.orders.get(int(c["client_order_id"]) or int(c["ref_id"]))
        if t is not None and not t.terminal:
            self.journal.cancel_wanted(t)  # write-ahead: a restart re-sends it (cancels are idempotent)

    def _admit(self, c: np.void) -> tuple[Tracked, Inst, tuple[int, str] | None] | None:
        """Journal a new order (write-ahead); None for a submit the journal already has (engine retry)."""
        oms_id = int(c["client_order_id"])
        if oms_id in self.journal.orders:
            self._count("duplicate_submits")
            return None
        inst = self.instruments.get(int(c["instrument"]))
        market = ids.MARKET_NAMES.get(int(c["market"]), "?") if inst is None else inst.market
        t = Tracked(
            oms_id=oms_id,
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
            cid=self.adapter.client_id(oms_id, 0),
            created_ms=int(time.time() * 1000),
        )
        served = inst is not None and inst.market in self.markets
        if served:
            t.algo = self.x.is_conditional(self.ref(t, inst))
        self.journal.add(t)
        if not served:
            return t, inst, (E_UNKNOWN_SYMBOL, f"instrument {t.instrument} not served here")  # type: ignore[return-value]
        return t, inst, None  # type: ignore[return-value]

    def _ref_for(self, c: np.void) -> Tracked:
        inst = self.instruments.get(int(c["instrument"]))
        return Tracked(
            oms_id=int(c["client_order_id"]) or int(c["ref_id"]),
            market=inst.market if inst else ids.MARKET_NAMES.get(int(c["market"]), "?"),
            symbol=inst.symbol if inst else "",
            instrument=int(c["instrument"]),
            account=int(c["account"]),
            side=int(c["side"]),
            order_type=int(c["order_type"]),
            price=int(c["price"]),
            qty=int(c["qty"]),
            seq=int(c["seq"]),
        )

    async def _reject_new(self, t: Tracked, code: int, why: str) -> None:
        self._count("rejects")
        _log.info("order %d rejected: %s (%d)", t.oms_id, why, code)
        if t.oms_id not in self.journal.orders:
            self.journal.add(t)
        await self.ended(t, R.ORDER_REJECTED, reason=code)

    # ---- submit ------------------------------------------------------------------------------------
    async def submit(self, t: Tracked, inst: Inst) -> None:
        async with self.lock(t.oms_id):
            t0 = time.perf_counter_ns()
            try:
                a = await self.x.submit(self.rest, self.ref(t, inst))
            except OutcomeUnknown as e:
                _log.warning("order %d: %s; resolving by query", t.oms_id, e)
                await self.resolve(t, sent_at=time.time())
                return
            except Transient as e:
                await self._reject_new(t, code_of(e, E_THROTTLED), e.message)
                return
            except Rejected as e:
                await self._reject_new(t, code_of(e, E_BAD_TYPE), e.message)
                return
            self._ack(time.perf_counter_ns() - t0)
            await self.on_answer(t, a)

    async def submit_batch(self, group: list[tuple[Tracked, Inst]]) -> None:
        async with contextlib.AsyncExitStack() as stack:
            # locks before the first await: a cancel behind us in the ring waits for the answer
            for t, _ in group:
                await stack.enter_async_context(self.lock(t.oms_id))
            t0 = time.perf_counter_ns()
            self._count("batches")
            try:
                res = await self.x.submit_batch(self.rest, [self.ref(t, i) for t, i in group])
            except OutcomeUnknown as e:
                _log.warning("batch of %d: %s; resolving each by query", len(group), e)
                sent = time.time()
                await asyncio.gather(*(self.resolve(t, sent_at=sent) for t, _ in group))
                return
            except OmsError as e:
                for t, _ in group:
                    await self._reject_new(t, code_of(e, E_THROTTLED), e.message)
                return
            dt = time.perf_counter_ns() - t0
            for (t, _), a in zip(group, res, strict=False):
                if isinstance(a, OutcomeUnknown):
                    await self.resolve(t, sent_at=time.time())
                elif isinstance(a, OmsError):
                    await self._reject_new(t, code_of(a), a.message)
                else:
                    self._ack(dt)
                    await self.on_answer(t, a)

    async def on_answer(self, t: Tracked, a: OrderAnswer, flags: int = 0) -> None:
        """The venue's view of an order we sent (REST answer or query)."""
        if a.status == "rejected":
            await self.ended(t, R.ORDER_REJECTED, flags=flags)
            return
        await self.accepted(t, a.venue_oid, flags)
        if (a.conditional and a.status in _END) or (a.executed == 0 and a.status in ("canceled", "expired")):
            await self.ended(t, _END[a.status], flags=flags)
        # fills (and terminal states after fills) arrive on the user data stream / reconciliation

    async def query(self, t: Tracked) -> OrderAnswer | None:
        return await self.x.query(self.rest, self.ref(t))

    async def _query_quiet(self, t: Tracked) -> OrderAnswer | None:
        try:
            return await self.query(t)
        except OmsError:
            return None

    async def resolve(self, t: Tracked, sent_at: float, flags: int = 0) -> None:
        """OutcomeUnknown → ask the venue (after recvWindow, so a late copy cannot land later)."""
        self._count("outcome_unknown")
        settle = sent_at + self.rest.recv_window_ms / 1000 + 0.05
        delay = 0.2
        for attempt in range(20):
            if attempt == 0 and settle > time.time():
                a = await self._query_quiet(t)  # early look: it may be there already
                if a is not None:
                    self._count("resolved_placed")
                    await self.on_answer(t, a, flags)
                    return
                await asyncio.sleep(max(0.0, settle - time.time()))
            if t.accepted or t.terminal:
                self._count("resolved_placed")
                return
            try:
                a = await self.query(t)
            except OmsError as e:  # a failed or refused query says nothing about the order
                _log.warning("order %d: query failed (%s); retrying in %.1fs", t.oms_id, e, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
                continue
            if a is None:
                self._count("resolved_absent")
                await self._reject_new(t, E_NOT_EXIST, "lost answer; the venue has no such order")
            else:
                self._count("resolved_placed")
                await self.on_answer(t, a, flags)
            return
        _log.error(
            "order %d: outcome still unknown after 20 queries; reconciliation will settle it", t.oms_id
        )

    async def _control(self, c: np.void) -> None:
        """A venue control command (leverage, margin mode, ...): the adapter applies it or it is ignored."""
        if not await self.x.control(self.rest, c, self.instruments, self.emit):
            self._count("ignored_commands")

    # ---- cancel ------------------------------------------------------------------------------------
    async def cancel(self, c: np.void) -> None:
        oms_id = int(c["client_order_id"]) or int(c["ref_id"])
        t = self.journal.orders.get(oms_id)
        if t is None:
            self._count("cancel_rejects")
            await self.emit(self.event(R.CANCEL_REJECTED, self._ref_for(c), reason=E_UNKNOWN_ORDER))
            return
        async with self.lock(oms_id):
            await self._cancel(t)

    async def _cancel(self, t: Tracked) -> None:
        if t.terminal:
            self._count("cancel_rejects")
            await self.emit(self.event(R.CANCEL_REJECTED, t, reason=E_UNKNOWN_ORDER))
            return
        for attempt in range(3):
            try:
                a = await self.x.cancel(self.rest, self.ref(t))
            except Rejected as e:
                if t.terminal:  # the user stream ended it meanwhile (filled / canceled)
                    return
                self._count("cancel_rejects")
                await self.emit(self.event(R.CANCEL_REJECTED, t, reason=code_of(e)))
                return
            except (OutcomeUnknown, Transient) as e:
                # a cancel is idempotent at the venue: asking again is safe (unknown once it is gone)
                _log.warning("cancel %d: %s (attempt %d)", t.oms_id, e, attempt + 1)
                q = await self._query_quiet(t)
                if q is None or q.status != "canceled":
                    await asyncio.sleep(0.2 * (attempt + 1))
                    continue
                a = q
            if a.venue_oid and not a.conditional:
                t.venue_oid = a.venue_oid
            if a.status in ("canceled", "expired", "new", "partially_filled"):
                await self.ended(t, R.ORDER_CANCELED)
            return
        self._count("cancel_rejects")
        await self.emit(self.event(R.CANCEL_REJECTED, t, reason=E_UNSETTLED))

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
        for t in targets:
            self.journal.cancel_wanted(t)
        await asyncio.gather(*(self.locked_cancel(t) for t in targets))

    async def locked_cancel(self, t: Tracked) -> None:
        async with self.lock(t.oms_id):
            await self._cancel(t)

    # ---- modify ------------------------------------------------------------------------------------
    async def modify(self, c: np.void) -> None:
        oms_id = int(c["client_order_id"]) or int(c["ref_id"])
        t = self.journal.orders.get(oms_id)
        if t is None:
            await self.emit(self.event(R.MODIFY_REJECTED, self._ref_for(c), reason=E_UNKNOWN_ORDER))
            return
        async with self.lock(oms_id):
            await self._modify(t, int(c["price"]) or t.price, int(c["qty"]) or t.qty)

    async def _modify(self, t: Tracked, price: int, qty: int) -> None:
        inst = self.instruments.get(t.instrument)
        if t.terminal or inst is None:
            await self.emit(
                self.event(R.MODIFY_REJECTED, t, reason=E_UNKNOWN_ORDER if inst else E_UNKNOWN_SYMBOL)
            )
            return
        ref = self.ref(t, inst)
        new_cid = self.x.modify_cid(ref, t.gen + 1)
        replaces = new_cid != t.cid
        if replaces:
            self.journal.by_cid[new_cid] = t.oms_id  # reports for the new id may beat the answer
            t.old_cids.add(t.cid)  # its cancel report is part of the replace, not an end
        try:
            m = await self.x.modify(self.rest, ref, inst.px(price), inst.qty(qty), new_cid)
            self.journal.modified(
                t, m.cid, t.gen + 1 if replaces else t.gen, price, qty, m.venue_oid or t.venue_oid
            )
        except Rejected as e:
            if replaces:
                t.old_cids.discard(t.cid)
            await self.emit(self.event(R.MODIFY_REJECTED, t, reason=code_of(e)))
            return
        except (OutcomeUnknown, Transient) as e:
            _log.warning("modify %d: %s; asking the venue", t.oms_id, e)
            q = await self._query_quiet(t)
            if q is None and replaces:  # the replace may have produced the new order
                q = await self._query_ref(dataclasses.replace(ref, cid=new_cid))
                if q is not None:
                    self.journal.modified(t, new_cid, t.gen + 1, price, qty, q.venue_oid)
            if (
                q is not None
                and Decimal(q.qty) == Decimal(inst.qty(qty))
                and Decimal(q.price) == Decimal(inst.px(price))
            ):
                t.price, t.qty = price, qty
            else:
                await self.emit(self.event(R.MODIFY_REJECTED, t, reason=E_UNSETTLED))
                return
        self._count("modified")
        await self.emit(self.event(R.ORDER_MODIFIED, t))

    async def _query_ref(self, ref: OrderRef) -> OrderAnswer | None:
        try:
            return await self.x.query(self.rest, ref)
        except OmsError:
            return None

    # ---- user data stream reports ------------------------------------------------------------------
    def find(self, cid: str) -> Tracked | None:
        t = self.journal.find_cid(cid)
        if t is None:
            parsed = self.adapter.parse_client_id(cid)
            if parsed is not None:
                t = self.journal.orders.get(parsed[0])
        return t

    async def on_report(self, r: ExecReport | VenueNotice, flags: int = 0) -> None:
        """One execution report from the user data stream (or a notice the adapter acts on)."""
        if isinstance(r, VenueNotice):
            self.spawn(self.x.on_notice(self.rest, r, self.instruments, self.emit))
            return
        t = self.find(r.cid)
        if t is None:
            if self.adapter.parse_client_id(r.cid) is None:
                self._count("foreign_reports")
            else:
                self._count("unknown_order_reports")
                _log.warning("report for our id %s that the journal does not know", r.cid)
            return
        if r.venue_oid:
            t.venue_oid = r.venue_oid
        if r.exec == "trade":
            inst = self.instruments.get(t.instrument)
            if inst is None:
                return
            await self.fill(
                t,
                r.trade_id,
                inst.to_ticks(r.last_px),
                inst.to_lots(r.last_qty),
                _e8(r.fee),
                r.maker,
                r.ts_ms,
                flags,
            )
            if r.status == "filled" and not t.terminal:
                t.terminal = R.ORDER_FILLED
                self.journal.ended(t, R.ORDER_FILLED)
        elif r.exec == "new":
            if t.algo and t.accepted and not t.fired:
                t.fired = True  # the venue placed the order its trigger released
                self._count("triggered")
                await self.emit(self.event(R.ORDER_TRIGGERED, t, flags=flags))
            await self.accepted(t, r.venue_oid, flags)
        elif r.exec in ("canceled", "expired", "rejected"):
            if r.cid in t.old_cids:
                return  # the cancel half of our own replace
            await self.ended(
                t, _END[r.exec], reason=r.reject_code if r.exec == "rejected" else 0, flags=flags
            )
        # replaced / other: the REST answer already said it
