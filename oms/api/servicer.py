"""Gateway room (oms/api): the `oms.v1.Gateway` servicer — orders in, acks/events/state out.

Touches the engine rings through `EngineLink` and the BBO table (read-only). Authentication already
happened in the interceptor (`auth.current` holds the caller); here each request is validated field by
field, checked against the token's accounts, charged per order, written to the command ring, and
answered with the engine's first event for it. Any `ApiError` becomes its status; anything unexpected
is logged and answered INTERNAL without killing the server (the fuzz tests hold that never to happen).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import grpc

from oms import log
from oms.api import contingent, convert, validation
from oms.api.audit_sink import AuditRecord
from oms.api.auth import Authenticator, current
from oms.api.engine_link import FUTURE_SINK, EngineLink
from oms.api.gen.oms.v1 import gateway_pb2 as gw
from oms.api.gen.oms.v1 import gateway_pb2_grpc as gw_grpc
from oms.api.gen.oms.v1 import types_pb2 as pb
from oms.api.state import E_ACCOUNT, E_COID, E_INSTRUMENT, E_KIND, E_VENUE
from oms.api.status import ApiError, abort, invalid
from oms.api.validation import Resolver
from oms.errors import OmsError
from oms.shm import records as R

_log = log.get(__name__)
# the venue's first word on a new order (SubmitOrder with wait_for_venue)
_VENUE_ANSWERS = frozenset(
    (
        R.ORDER_ACCEPTED,
        R.ORDER_REJECTED,
        R.ORDER_FILLED,
        R.ORDER_CANCELED,
        R.ORDER_EXPIRED,
    )
)
MAX_INFLIGHT = 16_384  # default bound of a stream's commands awaiting the engine's ack
MAX_BUFFERED = 65_536  # default bound of acks+events queued for a stream's client


async def guarded(context: grpc.aio.ServicerContext, coro: Any) -> Any:
    try:
        return await coro
    except ApiError as e:
        await abort(context, e)
    except asyncio.CancelledError:
        raise
    except grpc.aio.AbortError:
        raise
    except Exception:
        _log.exception("unexpected error in %s", "gateway call")
        await context.abort(grpc.StatusCode.INTERNAL, "internal error (logged); please report it")


class StreamSink:
    """Acks and events for one OrderStream: filled by the reader task, drained by the response loop.

    Bounded both ways: at most `max_pending` commands await the engine (the request reader waits for
    room), and at most `max_buffered` acks+events wait for the client. A client that stops reading
    fills the second bound; the stream is then cut off (`cut` is called once, the queues are dropped)
    instead of buffering for it forever."""

    def __init__(
        self, rs: Resolver, max_pending: int = MAX_INFLIGHT, max_buffered: int = MAX_BUFFERED, cut: Any = None
    ) -> None:
        self.rs = rs
        self.max_pending = max_pending
        self.max_buffered = max_buffered
        self._cut = cut
        self.overflowed = False
        self.acks: list[pb.OrderAck] = []
        self.events: list[pb.OrderEvent] = []
        self.ready = asyncio.Event()
        self.space = asyncio.Event()
        self.space.set()
        self.outstanding = 0
        self.sent = 0  # commands written to the engine ring
        self.refused = 0  # commands answered locally (invalid, out of scope, rate limited, engine down)

    def ack(self, token: Any, e: tuple | None, err: ApiError | None) -> None:
        rid, row = token
        a = convert.ack(rid, row[6], row[13], e)
        if err is not None:
            a.error, a.error_code = err.message, err.code.value[0]
        self.outstanding -= 1
        if self.outstanding < self.max_pending:
            self.space.set()
        self._put(self.acks, a)

    def local(self, a: pb.OrderAck) -> None:
        self.refused += 1
        self._put(self.acks, a)

    def event(self, e: tuple) -> None:
        if not self.overflowed:
            self._put(self.events, convert.event(e, self.rs))

    def _put(self, q: list[Any], item: Any) -> None:
        if self.overflowed:
            return
        if len(self.acks) + len(self.events) >= self.max_buffered:
            self.overflowed = True
            self.acks, self.events = [], []
            self.ready.set()
            if self._cut is not None:
                self._cut()
            return
        q.append(item)
        self.ready.set()


class GatewayServicer(gw_grpc.GatewayServicer):
    def __init__(
        self,
        link: EngineLink,
        rs: Resolver,
        auth: Authenticator,
        bbo: Any = None,
        *,
        max_pending: int = MAX_INFLIGHT,
        max_buffered: int = MAX_BUFFERED,
    ) -> None:
        self.link = link
        self.rs = rs
        self.auth = auth
        self.bbo = bbo  # BboTable or None
        self.max_pending = max_pending
        self.max_buffered = max_buffered
        self.streams_cut = 0
        self._bbo_retry_at = 0.0  # GetBbo attaches a table that appears later

    # ---- single commands -----------------------------------------------------------------------
    async def _one(self, row: list[Any]) -> pb.OrderAck:
        p = current.get()
        self.auth.check_account(p, row[4])
        fut = asyncio.get_running_loop().create_future()
        seq = self.link.publish([row], FUTURE_SINK, [fut])[0]
        return convert.ack(0, row[6], seq, await fut)

    async def SubmitOrder(self, request: pb.SubmitOrder, context: Any) -> pb.OrderAck:
        if request.wait_for_venue:
            return await guarded(context, self._submit_wait_venue(request))
        return await guarded(
            context, self._call(lambda: validation.submit(request, self.rs, self.link.next_coid))
        )

    async def _submit_wait_venue(self, request: pb.SubmitOrder) -> pb.OrderAck:
        """SubmitOrder answered with the venue's first word on the order (docs/gateway.md, acks)."""
        wait_s = (request.venue_wait_ms or 10_000) / 1000.0
        if wait_s > 60:
            raise invalid("venue_wait_ms", f"is {request.venue_wait_ms}; use 0..60000")
        row = validation.submit(request, self.rs, self.link.next_coid)
        coid = row[6]
        loop = asyncio.get_running_loop()
        venue_said: asyncio.Future[tuple] = loop.create_future()

        def watch(e: tuple) -> None:
            if (
                e[E_COID] == coid
                and e[E_ACCOUNT] == row[4]
                and e[E_KIND] in _VENUE_ANSWERS
                and not venue_said.done()
            ):
                venue_said.set_result(e)

        unsubscribe = self.link.subscribe(watch)  # before publishing: the answer cannot slip past
        try:
            first = await self._one(row)
            if first.kind != pb.EVENT_KIND_ORDER_SUBMITTED:
                return first  # rejected by the OMS (named reason) or emulated by the engine
            try:
                e = await asyncio.wait_for(venue_said, wait_s)
            except TimeoutError:
                raise ApiError(
                    grpc.StatusCode.DEADLINE_EXCEEDED,
                    f"the venue did not answer order {coid} within {wait_s:g}s; the OMS has it "
                    "(accepted and logged): GetOrder shows where it is",
                ) from None
            return convert.ack(0, coid, first.command_seq, e)
        finally:
            unsubscribe()

    async def ModifyOrder(self, request: pb.ModifyOrder, context: Any) -> pb.OrderAck:
        return await guarded(context, self._call(lambda: validation.modify(request, self.rs)))

    async def CancelOrder(self, request: pb.CancelOrder, context: Any) -> pb.OrderAck:
        return await guarded(context, self._call(lambda: validation.cancel(request, self.rs)))

    async def CancelAll(self, request: pb.CancelAll, context: Any) -> pb.OrderAck:
        return await guarded(context, self._call(lambda: validation.cancel_all(request, self.rs)))

    async def _call(self, make: Any) -> pb.OrderAck:
        return await self._one(make())

    async def SubmitBatch(self, request: pb.SubmitBatch, context: Any) -> gw.BatchAck:
        return await guarded(context, self._batch(request))

    async def _batch(self, request: pb.SubmitBatch) -> pb.BatchAck:
        n = len(request.orders)
        if not 1 <= n <= validation.MAX_BATCH:
            raise invalid("orders", f"has {n} orders; send 1..{validation.MAX_BATCH}")
        p = current.get()
        rows = [
            validation.submit(o, self.rs, self.link.next_coid, f"orders[{i}].")
            for i, o in enumerate(request.orders)
        ]
        for i, row in enumerate(rows):
            self.auth.check_account(p, row[4], f"orders[{i}].account")
        self.auth.charge(p, n)
        loop = asyncio.get_running_loop()
        futs = [loop.create_future() for _ in rows]
        seqs = self.link.publish(rows, FUTURE_SINK, futs)
        out = pb.BatchAck()
        for row, seq, fut in zip(rows, seqs, futs, strict=True):
            try:
                a = convert.ack(0, row[6], seq, await fut)
            except ApiError as e:
                a = pb.OrderAck(
                    client_order_id=row[6], command_seq=seq, error=e.message, error_code=e.code.value[0]
                )
            out.acks.append(a)
        return out

    # ---- contingent orders (OCO, bracket): linked rows written in one publish ----------------------
    async def SubmitOco(self, request: pb.SubmitOco, context: Any) -> pb.ContingentAck:
        return await guarded(
            context, self._linked(lambda: contingent.oco(request, self.rs, self.link.next_coid))
        )

    async def SubmitBracket(self, request: pb.SubmitBracket, context: Any) -> pb.ContingentAck:
        return await guarded(
            context, self._linked(lambda: contingent.bracket(request, self.rs, self.link.next_coid))
        )

    async def _linked(self, make: Any) -> pb.ContingentAck:
        rows = make()
        p = current.get()
        for row in rows:
            self.auth.check_account(p, row[4])
        self.auth.charge(p, len(rows))
        loop = asyncio.get_running_loop()
        futs = [loop.create_future() for _ in rows]
        seqs = self.link.publish(rows, FUTURE_SINK, futs)
        out = pb.ContingentAck()
        for row, seq, fut in zip(rows, seqs, futs, strict=True):
            try:
                a = convert.ack(0, row[6], seq, await fut)
            except ApiError as e:
                a = pb.OrderAck(
                    client_order_id=row[6], command_seq=seq, error=e.message, error_code=e.code.value[0]
                )
            out.acks.append(a)
        return out

    def _stream_linked(self, p: Any, sink: StreamSink, req: gw.OrderStreamRequest) -> list[list[Any]]:
        """The OCO and bracket groups of a stream request as rows (a group with a bad leg is refused
        whole, each of its orders answered with the error)."""
        rows: list[list[Any]] = []
        groups: list[tuple[str, Any, Any]] = [("oco", o, contingent.oco) for o in req.oco]
        groups += [("bracket", b, contingent.bracket) for b in req.bracket]
        seen: dict[str, int] = {}
        for field, item, fn in groups:
            i = seen[field] = seen.get(field, -1) + 1
            path = f"{field}[{i}]."
            try:
                got = fn(item, self.rs, self.link.next_coid, path)
                for row in got:
                    self.auth.check_account(p, row[4], f"{path}account")
            except ApiError as e:
                sink.local(
                    pb.OrderAck(request_id=req.request_id, error=e.message, error_code=e.code.value[0])
                )
                continue
            rows.extend(got)
        return rows

    # ---- the bidirectional stream --------------------------------------------------------------
    async def OrderStream(self, request_iterator: Any, context: Any) -> AsyncIterator[gw.OrderStreamResponse]:
        p = current.get()
        handler = asyncio.current_task()
        cut_at: list[float] = []

        def cut() -> None:  # the client stopped reading: end the call (its pending write is cancelled)
            if not cut_at:
                cut_at.append(1.0)
                self.streams_cut += 1
                self.link.forget(sink)
                if handler is not None:  # ends the handler (its blocked write) without an error log
                    handler.cancel()
                if self.auth.drop_peer is not None:  # and the connection: the client sees UNAVAILABLE
                    self.auth.drop_peer(p.peer)

        sink = StreamSink(self.rs, self.max_pending, self.max_buffered, cut)
        done = asyncio.Event()

        async def pump() -> None:
            try:
                async for req in request_iterator:
                    if not sink.space.is_set():
                        await sink.space.wait()
                    if sink.overflowed:
                        return
                    self._stream_request(p, sink, req)
            except Exception as e:  # client went away or sent garbage: end the stream cleanly
                if not isinstance(e, asyncio.CancelledError):
                    _log.debug("order stream reader ended: %r", e)
            finally:
                done.set()
                sink.ready.set()

        task = asyncio.get_running_loop().create_task(pump())
        try:
            while True:
                if sink.acks or sink.events:
                    resp = gw.OrderStreamResponse(acks=sink.acks, events=sink.events)
                    sink.acks, sink.events = [], []
                    yield resp
                    continue
                if done.is_set() and sink.outstanding <= 0:
                    return
                await sink.ready.wait()
                sink.ready.clear()
        finally:
            task.cancel()
            self.link.forget(sink)
            self.auth.audit.record(
                AuditRecord(
                    "/oms.v1.Gateway/OrderStream",
                    "allow",
                    "OK",
                    p.token.id,
                    f"{p.peer.ip}:{p.peer.port}",
                    "stream cut off: the client stopped reading its answers"
                    if sink.overflowed
                    else "stream closed",
                    None,
                    {"commands_sent": sink.sent, "commands_refused": sink.refused},
                )
            )

    def _stream_request(self, p: Any, sink: StreamSink, req: gw.OrderStreamRequest) -> None:
        rid = req.request_id
        n = len(req.submit) + len(req.cancel) + len(req.modify)
        n += 2 * len(req.oco) + sum(
            1 + b.HasField("stop_loss") + b.HasField("take_profit") for b in req.bracket
        )
        try:  # every command costs, also the ones refused below (invalid, out of scope)
            self.auth.charge(p, min(max(n, 1), validation.MAX_BATCH + 1))
        except ApiError as e:
            items = (
                [*req.submit, *req.cancel, *req.modify, *req.oco, *req.bracket]
                if 1 <= n <= validation.MAX_BATCH
                else [None]
            )
            for item in items:
                coid = getattr(item, "client_order_id", 0)
                sink.local(
                    pb.OrderAck(
                        request_id=rid, client_order_id=coid, error=e.message, error_code=e.code.value[0]
                    )
                )
            return
        if not 1 <= n <= validation.MAX_BATCH:
            e = invalid("submit", f"request {rid} has {n} commands; send 1..{validation.MAX_BATCH}")
            sink.local(pb.OrderAck(request_id=rid, error=e.message, error_code=e.code.value[0]))
            return
        rows, tokens = [], []
        for field, items, fn in (
            ("submit", req.submit, None),
            ("cancel", req.cancel, validation.cancel),
            ("modify", req.modify, validation.modify),
        ):
            for i, item in enumerate(items):
                path = f"{field}[{i}]."
                try:
                    row = (
                        validation.submit(item, self.rs, self.link.next_coid, path)
                        if fn is None
                        else fn(item, self.rs, path)
                    )
                    self.auth.check_account(p, row[4], f"{path}account")
                except ApiError as e:
                    coid = getattr(item, "client_order_id", 0)
                    sink.local(
                        pb.OrderAck(
                            request_id=rid, client_order_id=coid, error=e.message, error_code=e.code.value[0]
                        )
                    )
                    continue
                rows.append(row)
                tokens.append((rid, row))  # row[13] holds the command seq once published
        if req.oco or req.bracket:
            for row in self._stream_linked(p, sink, req):
                rows.append(row)
                tokens.append((rid, row))
        if not rows:
            return
        sink.outstanding += len(rows)
        if sink.outstanding >= sink.max_pending:
            sink.space.clear()
        try:
            self.link.publish(rows, sink, tokens, follow=True)
            sink.sent += len(rows)
        except ApiError as e:
            sink.outstanding -= len(rows)
            self._refuse(sink, rid, rows, e)

    @staticmethod
    def _refuse(sink: StreamSink, rid: int, rows: list[list[Any]], e: ApiError) -> None:
        for row in rows:
            sink.local(
                pb.OrderAck(
                    request_id=rid, client_order_id=row[6], error=e.message, error_code=e.code.value[0]
                )
            )

    # ---- queries -------------------------------------------------------------------------------
    async def GetOrder(self, request: gw.GetOrderRequest, context: Any) -> pb.Order:
        async def run() -> pb.Order:
            validation.account(request.account, "account")
            self.auth.check_account(current.get(), request.account)
            if not request.client_order_id:
                raise invalid("client_order_id", "is required")
            o = self.link.state.orders.get((request.account, request.client_order_id))
            if o is None or o.account != request.account:
                raise ApiError(
                    grpc.StatusCode.NOT_FOUND,
                    f"client_order_id: no order {request.client_order_id} for account "
                    f"{request.account} in the gateway's view",
                )
            return convert.order(o, self.rs)

        return await guarded(context, run())

    async def ListOrders(self, request: gw.ListOrdersRequest, context: Any) -> gw.ListOrdersResponse:
        async def run() -> gw.ListOrdersResponse:
            validation.account(request.account, "account")
            self.auth.check_account(current.get(), request.account)
            limit = request.limit or 100
            if limit > 1000:
                raise invalid("limit", f"{limit} is too large; at most 1000")
            inst = self._instrument_filter(request.venue, "", request.symbol)
            venue = validation.text(request.venue, "venue").lower()
            out = gw.ListOrdersResponse()
            for o in reversed(self.link.state.orders.values()):
                if o.account != request.account or (request.open_only and not o.open):
                    continue
                if inst is not None and o.instrument != inst:
                    continue
                if venue and (res := self.rs.by_id(o.instrument)) is not None and res.venue != venue:
                    continue
                out.orders.append(convert.order(o, self.rs))
                if len(out.orders) >= limit:
                    break
            return out

        return await guarded(context, run())

    def _instrument_filter(self, venue: str, market: str, symbol: str) -> int | None:
        if not symbol:
            if venue:
                v = validation.text(venue, "venue").lower()
                if v not in validation.ids.VENUES:
                    raise invalid("venue", f"unknown venue {v!r}")
            return None
        return int(self.rs.resolve(venue, market, symbol, "").inst.id)

    async def GetPositions(self, request: gw.GetPositionsRequest, context: Any) -> gw.GetPositionsResponse:
        async def run() -> gw.GetPositionsResponse:
            validation.account(request.account, "account")
            self.auth.check_account(current.get(), request.account)
            self._instrument_filter(request.venue, "", "")
            venue = request.venue.lower()
            out = gw.GetPositionsResponse()
            for (acct, _), pv in sorted(self.link.state.positions.items()):
                if acct == request.account:
                    m = convert.position(pv, self.rs, self.link.state.futures.get(pv.instrument))
                    if not venue or m.venue == venue:
                        out.positions.append(m)
            return out

        return await guarded(context, run())

    async def GetBalances(self, request: gw.GetBalancesRequest, context: Any) -> gw.GetBalancesResponse:
        async def run() -> gw.GetBalancesResponse:
            validation.account(request.account, "account")
            self.auth.check_account(current.get(), request.account)
            self._instrument_filter(request.venue, "", "")
            pos = [pv for (a, _), pv in self.link.state.positions.items() if a == request.account]
            return gw.GetBalancesResponse(
                balances=convert.balances(pos, self.rs, request.account, request.venue.lower())
            )

        return await guarded(context, run())

    async def StreamEvents(
        self, request: gw.StreamEventsRequest, context: Any
    ) -> AsyncIterator[pb.OrderEvent]:
        p = current.get()
        try:
            for i, a in enumerate(request.accounts):
                validation.account(a, f"accounts[{i}]")
                self.auth.check_account(p, a, f"accounts[{i}]")
            accounts = frozenset(request.accounts) or p.accounts
            inst = self._instrument_filter(request.venue, request.market, request.symbol)
            venue_id = validation.ids.VENUES.get(request.venue.lower(), 0) if request.venue else 0
        except ApiError as e:
            await abort(context, e)
            return
        q: asyncio.Queue[tuple | None] = asyncio.Queue(maxsize=10_000)

        def on_event(e: tuple) -> None:
            if e[E_ACCOUNT] not in accounts or (inst is not None and e[E_INSTRUMENT] != inst):
                return
            if venue_id and e[E_VENUE] != venue_id:
                return
            try:
                q.put_nowait(e)
            except asyncio.QueueFull:
                unsubscribe()
                q._queue.clear()  # type: ignore[attr-defined]
                q.put_nowait(None)

        unsubscribe = self.link.subscribe(on_event)
        try:
            while True:
                e = await q.get()
                if e is None:
                    await abort(
                        context,
                        ApiError(
                            grpc.StatusCode.RESOURCE_EXHAUSTED,
                            "event stream fell 10000 events behind; reconnect and read "
                            "faster or filter by venue/symbol",
                            retry_after=1.0,
                        ),
                    )
                    return
                yield convert.event(e, self.rs)
        finally:
            unsubscribe()

    # ---- market data ---------------------------------------------------------------------------
    def _attach_bbo(self) -> None:
        """The BBO table appeared after this gateway started (its writer started later): attach now,
        at most once a second. A table whose writer died stays the one it re-attaches to."""
        now = time.monotonic()
        if now < self._bbo_retry_at or not getattr(self.link, "prefix", ""):
            return
        self._bbo_retry_at = now + 1.0
        try:
            from oms.shm.names import bbo_table
            from oms.shm.table import BboTable

            self.bbo = BboTable.attach(bbo_table(self.link.prefix), allow_stale=True, timeout=0.05)
        except OmsError:
            self.bbo = None

    def _bbo_row(self, venue: str, market: str, symbol: str) -> tuple[Any, Any]:
        res = self.rs.resolve(venue, market, symbol, "")
        if self.bbo is None:
            self._attach_bbo()
        if self.bbo is None:
            raise ApiError(
                grpc.StatusCode.UNAVAILABLE,
                "no BBO table: the marketdata process is not running (start it and retry)",
            )
        try:
            row = self.bbo.read(int(res.inst.id))
        except Exception as e:
            raise ApiError(
                grpc.StatusCode.UNAVAILABLE, f"BBO for {res.inst.unified} unavailable: {e}"
            ) from None
        if int(row["seq"]) == 0:
            raise ApiError(grpc.StatusCode.NOT_FOUND, f"symbol: no market data yet for {res.inst.unified}")
        return res, row

    async def GetBbo(self, request: gw.GetBboRequest, context: Any) -> gw.Bbo:
        async def run() -> gw.Bbo:
            res, row = self._bbo_row(request.venue, request.market, request.symbol)
            p = res.prec
            return gw.Bbo(
                venue=res.venue,
                market=res.market,
                symbol=res.inst.unified,
                bid_price=p.price(int(row["bid_px"])),
                bid_quantity=p.qty(int(row["bid_qty"])),
                ask_price=p.price(int(row["ask_px"])),
                ask_quantity=p.qty(int(row["ask_qty"])),
                mark_price=p.price(int(row["mark_px"])) if int(row["mark_px"]) else "",
                ts_ns=int(row["ts_ns"]),
            )

        return await guarded(context, run())

    async def GetBook(self, request: gw.GetBookRequest, context: Any) -> gw.Book:
        async def run() -> gw.Book:
            depth = request.depth or 1
            if depth > 50:
                raise invalid("depth", f"{depth} is too large; 1..50")
            res, row = self._bbo_row(request.venue, request.market, request.symbol)
            p = res.prec
            # The shared-memory contract publishes the top of book only (BBO table); deeper levels
            # need a book table from the marketdata room. The answer says how many levels it has.
            return gw.Book(
                venue=res.venue,
                market=res.market,
                symbol=res.inst.unified,
                bids=[gw.BookLevel(price=p.price(int(row["bid_px"])), quantity=p.qty(int(row["bid_qty"])))],
                asks=[gw.BookLevel(price=p.price(int(row["ask_px"])), quantity=p.qty(int(row["ask_qty"])))],
                ts_ns=int(row["ts_ns"]),
            )

        return await guarded(context, run())
