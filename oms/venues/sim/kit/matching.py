"""Simulator kit room: the matching core of one simulated market (spot or derivatives).

Touches only its books, orders and the accounts it is handed. Price-time priority per symbol (book.py);
limit / market / IOC / FOK / post-only / reduce-only; conditional orders that rest outside the book
(`trigger_dir`) and algo orders (stop, take-profit, trailing) fired on the last trade or the mark;
partial fills, self-trade prevention, maker/taker fees, spot balance locking and derivatives positions
with leverage and mark price (settlement.py). Rejects are named reasons looked up in the venue's error
table (errors.py); every state change goes to the venue's `events` (a `CoreEvents`), which renders it
in the venue's wire format. Nothing here knows a venue.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from decimal import Decimal
from typing import Protocol

from oms.venues.sim.kit import settlement
from oms.venues.sim.kit.accounts import Account, Accounts
from oms.venues.sim.kit.book import Book
from oms.venues.sim.kit.errors import ErrorTable, SimError, check_table
from oms.venues.sim.kit.orders import AlgoOrder, Fill, Order, Print, triggered
from oms.venues.sim.kit.spec import SymbolSpec

ZERO = Decimal(0)
ORDER_HISTORY = 200_000  # finished user orders kept queryable (oldest forgotten first)
TRADE_HISTORY = 100_000  # fills kept per account
PRINTS = 1000  # public trades kept per symbol
STP_MODES = ("EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH")


class CoreEvents(Protocol):
    """What a venue renders: order updates, balance changes, top of book and the tape."""

    def order(self, o: Order, exec_type: str, fill: Fill | None) -> None: ...

    def balances(self, account: Account, assets: set[str], symbols: set[str], reason: str) -> None: ...

    def bbo(self, symbol: str, bid: tuple[int, int], ask: tuple[int, int], update_id: int) -> None: ...

    def trade(self, symbol: str, p: Print) -> None: ...


class NoEvents:
    def order(self, o: Order, exec_type: str, fill: Fill | None) -> None:
        return None

    def balances(self, account: Account, assets: set[str], symbols: set[str], reason: str) -> None:
        return None

    def bbo(self, symbol: str, bid: tuple[int, int], ask: tuple[int, int], update_id: int) -> None:
        return None

    def trade(self, symbol: str, p: Print) -> None:
        return None


def fmt_dec(value: Decimal, places: int) -> str:
    return f"{value:.{places}f}"


class MarketCore:
    """One market: `submit`, `cancel`, `amend_qty_keep_priority`, `modify`, `fire_algo`, `update_marks`."""

    def __init__(
        self,
        market: str,
        specs: list[SymbolSpec],
        accounts: Accounts,
        clock: Callable[[], int],
        *,
        derivatives: bool,
        errors: ErrorTable,
        maker_fee: Decimal,
        taker_fee: Decimal,
        default_leverage: int = 20,
        first_id: int = 1_000_000,
        fixed_places: int | None = None,
        reject_status: int = 400,
    ) -> None:
        check_table(market, errors)
        self.reject_status = reject_status  # HTTP status of a reject (Bybit answers business errors 200)
        self.market = market
        self.derivatives = derivatives
        self.errors = errors
        self.accounts = accounts
        self.clock = clock
        self.maker_fee, self.taker_fee = maker_fee, taker_fee
        self.default_leverage = default_leverage
        self.fixed_places = fixed_places  # every decimal with this many places (None: the symbol's)
        self.specs: dict[str, SymbolSpec] = {s.symbol: s for s in specs if s.market == market}
        self.books: dict[str, Book] = {s: Book() for s in self.specs}
        self.orders: dict[int, Order] = {}
        self.by_client: dict[tuple[int, str, str], Order] = {}
        self.open_ids: dict[tuple[int, str], set[int]] = {}
        self.stops: dict[str, list[Order]] = {s: [] for s in self.specs}
        self.algos: dict[int, AlgoOrder] = {}
        self.last_px: dict[str, int] = {}
        self.mark: dict[str, Decimal] = {s: sp.start_price for s, sp in self.specs.items()}
        self.prints: dict[str, deque[Print]] = {s: deque(maxlen=PRINTS) for s in self.specs}
        self.fills: dict[int, deque[Fill]] = {}  # account uid -> its fills, oldest first
        self._done: deque[Order] = deque()
        self.trade_id = 0
        self.next_id = first_id
        self.exec_id = 0
        self.status: dict[str, str] = {s: sp.status for s, sp in self.specs.items()}
        self._bbo: dict[str, tuple] = {}
        self.events: CoreEvents = NoEvents()

    # ------------------------------------------------------------ helpers
    def reject(self, reason: str) -> SimError:
        code, msg = self.errors[reason]
        return SimError(code, msg, self.reject_status)

    def new_id(self) -> int:
        self.next_id += 1
        return self.next_id

    def fmt_px(self, spec: SymbolSpec, ticks: int) -> str:
        places = spec.price_precision if self.fixed_places is None else self.fixed_places
        return fmt_dec(spec.tick * ticks, places)

    def fmt_qty(self, spec: SymbolSpec, lots: int) -> str:
        places = spec.qty_precision if self.fixed_places is None else self.fixed_places
        return fmt_dec(spec.step * lots, places)

    def ref_price(self, symbol: str) -> Decimal:
        book = self.books[symbol]
        bb, ba = book.best_bid(), book.best_ask()
        tick = self.specs[symbol].tick
        if bb is not None and ba is not None:
            return tick * (bb + ba) / 2
        if symbol in self.last_px:
            return tick * self.last_px[symbol]
        return self.specs[symbol].start_price

    def open_orders(self, account: Account, symbol: str | None = None) -> list[Order]:
        out = []
        for (uid, sym), ids in self.open_ids.items():
            if uid == account.uid and (symbol is None or sym == symbol):
                out.extend(self.orders[i] for i in sorted(ids))
        return out

    def find(self, account: Account, symbol: str, order_id: int | None, client_id: str | None) -> Order:
        o = None
        if order_id is not None:
            o = self.orders.get(order_id)
        elif client_id:
            o = self.by_client.get((account.uid, symbol, client_id))
        if o is None or o.account is not account or o.spec.symbol != symbol:
            raise self.reject("order_not_found")
        return o

    def _emit_order(self, o: Order, exec_type: str, fill: Fill | None = None) -> None:
        if not o.account.unlimited:
            self.events.order(o, exec_type, fill)

    def emit_balances(self, account: Account, assets: set[str], symbols: set[str] | None = None) -> None:
        if not account.unlimited:
            self.events.balances(account, assets, symbols or set(), "ORDER")

    def _track_open(self, o: Order) -> None:
        key = (o.account.uid, o.spec.symbol)
        if o.is_open:
            self.open_ids.setdefault(key, set()).add(o.order_id)
        else:
            ids = self.open_ids.get(key)
            if ids is not None:
                ids.discard(o.order_id)
                if not ids:
                    del self.open_ids[key]
            self._forget_later(o)

    def _forget_later(self, o: Order) -> None:
        """Bound memory: the market maker's finished orders go at once, users' after `ORDER_HISTORY`."""
        if o.account.unlimited:
            self.orders.pop(o.order_id, None)
            self.by_client.pop((o.account.uid, o.spec.symbol, o.client_id), None)
            return
        self._done.append(o)
        while len(self._done) > ORDER_HISTORY:
            old = self._done.popleft()
            if self.orders.get(old.order_id) is old:
                del self.orders[old.order_id]
            if self.by_client.get((old.account.uid, old.spec.symbol, old.client_id)) is old:
                del self.by_client[(old.account.uid, old.spec.symbol, old.client_id)]

    def check_bbo(self, symbol: str) -> None:
        book = self.books[symbol]
        top_b = book.levels(1, 1)
        top_a = book.levels(-1, 1)
        bbo = (top_b[0] if top_b else (0, 0), top_a[0] if top_a else (0, 0))
        if self._bbo.get(symbol) == bbo:
            return
        self._bbo[symbol] = bbo
        self.events.bbo(symbol, bbo[0], bbo[1], book.update_id)

    # ------------------------------------------------------------ submit
    def submit(self, o: Order) -> Order:
        """Accept, match and (maybe) rest an order; raises SimError for venue rejects."""
        sym = o.spec.symbol
        if self.status[sym] != "TRADING":
            raise self.reject("market_closed")
        key = (o.account.uid, sym, o.client_id)
        existing = self.by_client.get(key) if o.client_id else None  # "" = no client id given
        if existing is not None and existing.is_open:
            raise self.reject("duplicate_client_id")
        if len(self.open_ids.get((o.account.uid, sym), ())) >= o.spec.max_num_orders:
            raise self.reject("max_open_orders")
        book = self.books[sym]
        if o.trigger_dir:
            last = self.last_px.get(sym)
            if last is not None and triggered(o.trigger_dir, last, o.stop_price):
                raise self.reject("trigger_immediately")
        would_take = False
        if o.post_only:
            best = book.best_ask() if o.side > 0 else book.best_bid()
            would_take = best is not None and (o.price >= best if o.side > 0 else o.price <= best)
            if would_take and "post_only_would_take" in self.errors:
                raise self.reject("post_only_would_take")
        limit_px = o.price if o.limit else None
        if (
            o.tif == "FOK"
            and "fok_unfillable" in self.errors
            and book.crossing_lots(o.side, limit_px, o.qty) < o.qty
        ):
            raise self.reject("fok_unfillable")
        if self.derivatives:
            settlement.margin_check(self, o)
        else:
            settlement.spot_lock(self, o, book)
        self.orders[o.order_id] = o
        if o.client_id:
            self.by_client[key] = o
        o.update_time = o.time
        if would_take:  # the venue accepts it, then cancels it rather than let it take
            self._track_open(o)
            self._emit_order(o, "NEW")
            self._finish(o, "CANCELED")
            return o
        if o.trigger_dir:
            o.is_working = False
            self._track_open(o)
            self.stops[sym].append(o)
            self._emit_order(o, "NEW")
            return o
        o.working_time = o.time
        self._track_open(o)
        self._emit_order(o, "NEW")
        self._execute(o)
        return o

    # ------------------------------------------------------------ matching
    def _execute(self, t: Order) -> None:
        spec = t.spec
        book = self.books[spec.symbol]
        limit_px = t.price if t.limit else None
        if t.tif == "FOK" and book.crossing_lots(t.side, limit_px, t.qty) < t.qty:
            self._finish(t, "EXPIRED")
            return
        quote_left = t.quote_order_qty if (not t.limit and t.quote_order_qty) else None
        prevented = False
        while t.leaves > 0:
            q = book.best_queue(t.side)
            if not q:
                break
            maker: Order = q[0]
            if limit_px is not None and (maker.price > limit_px if t.side > 0 else maker.price < limit_px):
                break
            if maker.account is t.account and t.stp_mode in STP_MODES:  # self-trade prevention
                if t.stp_mode != "EXPIRE_TAKER":
                    book.remove(maker)
                    self._finish(maker, "EXPIRED_IN_MATCH", "TRADE_PREVENTION")
                if t.stp_mode != "EXPIRE_MAKER":
                    prevented = True
                    break
                continue
            lots = min(t.leaves, maker.leaves)
            if quote_left is not None:
                lots = min(lots, int(quote_left / (spec.tick * maker.price * spec.step)))
                if lots <= 0:
                    break
                quote_left -= spec.tick * maker.price * spec.step * lots
            self._fill(t, maker, lots, maker.price)
        if prevented:
            self._finish(t, "EXPIRED_IN_MATCH", "TRADE_PREVENTION")
        elif t.leaves == 0 or (quote_left is not None and t.executed > 0):
            if t.leaves == 0:
                self._settle_terminal(t)
            else:
                self._finish(t, "EXPIRED")
        elif t.limit and t.tif not in ("IOC", "FOK"):
            book.add(t)
        else:
            self._finish(t, "EXPIRED")
        self.check_bbo(spec.symbol)
        self._check_triggers(spec.symbol)

    def _fill(self, t: Order, m: Order, lots: int, price: int) -> None:
        spec = t.spec
        px = spec.tick * price
        qty = spec.step * lots
        quote = px * qty
        now = self.clock()
        m.executed += lots
        self.books[spec.symbol].reduce(m, lots)
        t.executed += lots
        for o in (t, m):
            o.cum_quote += quote
            o.update_time = now
            o.status = "FILLED" if o.leaves == 0 else "PARTIALLY_FILLED"
        self.trade_id += 1
        tid = self.trade_id
        self.last_px[spec.symbol] = price
        buyer = t if t.side > 0 else m
        p = Print(tid, price, lots, quote, now, buyer is m)
        self.prints[spec.symbol].append(p)
        self.events.trade(spec.symbol, p)
        for o, maker in ((m, True), (t, False)):
            rate = self.maker_fee if maker else self.taker_fee
            if self.derivatives:
                fee_asset = spec.quote
                fee = quote * rate
                rpnl = settlement.derivatives_settle(self, o, qty, px, fee, tid)
            else:
                fee_asset = spec.base if o.side > 0 else spec.quote
                fee = (qty if o.side > 0 else quote) * rate
                settlement.spot_settle(o, qty, quote, fee)
                rpnl = ZERO
            fill = Fill(
                tid,
                o.order_id,
                spec.symbol,
                o.side,
                price,
                lots,
                quote,
                fee,
                fee_asset,
                maker,
                rpnl,
                now,
                o.position_side,
            )
            if o is t:
                o.fills.append(fill)
            if not o.account.unlimited:
                self.fills.setdefault(o.account.uid, deque(maxlen=TRADE_HISTORY)).append(fill)
            self._emit_order(o, "TRADE", fill)
            if self.derivatives:
                self.emit_balances(o.account, {spec.quote}, {spec.symbol})
            else:
                self.emit_balances(o.account, {spec.base, spec.quote})
        if m.leaves == 0:
            self._settle_terminal(m)

    def _settle_terminal(self, o: Order) -> None:
        if o.locked > 0:
            o.account.unlock(o.lock_asset, o.locked)
            o.locked = ZERO
        self._track_open(o)

    def _finish(self, o: Order, status: str, exec_type: str = "") -> None:
        o.status = status
        o.update_time = self.clock()
        self._settle_terminal(o)
        self._emit_order(o, exec_type or status)
        if not self.derivatives:
            self.emit_balances(o.account, {o.spec.base, o.spec.quote})

    # ------------------------------------------------------------ cancel / amend
    def cancel(self, o: Order) -> Order:
        if not o.is_open:
            raise self.reject("order_not_open")
        sym = o.spec.symbol
        if o in self.stops.get(sym, ()):
            self.stops[sym].remove(o)
        elif o.limit or o.is_working:
            self.books[sym].remove(o)
        self._finish(o, "CANCELED")
        self.check_bbo(sym)
        return o

    def cancel_all(self, account: Account, symbol: str) -> list[Order]:
        return [self.cancel(o) for o in self.open_orders(account, symbol)]

    def amend_qty_keep_priority(self, o: Order, new_qty: int) -> Order:
        """Reduce an open order's quantity in place; it keeps its queue position."""
        if not o.is_open:
            raise self.reject("order_not_open")
        if new_qty >= o.qty or new_qty <= o.executed:
            raise self.reject("amend_qty_invalid")
        delta = o.qty - new_qty
        o.qty = new_qty
        o.update_time = self.clock()
        if o.is_working and o.limit:
            self.books[o.spec.symbol].reduce(o, delta)
        if o.side < 0 and o.locked:
            give = min(o.locked, o.spec.step * delta)
        else:
            give = min(o.locked, o.spec.tick * o.price * o.spec.step * delta)
        o.account.unlock(o.lock_asset, give)
        o.locked -= give
        self._emit_order(o, "REPLACED")
        self.check_bbo(o.spec.symbol)
        return o

    def modify(self, o: Order, new_price: int, new_qty: int) -> Order:
        """Change price and/or quantity of a resting limit order: it loses priority and may match."""
        if not o.is_open:
            raise self.reject("order_not_found")
        if new_qty <= o.executed:
            raise self.reject("modify_qty_too_small")
        if o.price == new_price and o.qty == new_qty:
            raise self.reject("modify_unchanged")
        if not self.derivatives:  # spot: re-lock what the amended order can spend
            spec = o.spec
            left = new_qty - o.executed
            need = spec.tick * new_price * spec.step * left if o.side > 0 else spec.step * left
            if need > o.locked and not o.account.lock(o.lock_asset, need - o.locked):
                raise self.reject("insufficient_balance")
            if need < o.locked:
                o.account.unlock(o.lock_asset, o.locked - need)
            o.locked = need
        book = self.books[o.spec.symbol]
        book.remove(o)
        o.price, o.qty = new_price, new_qty
        o.update_time = self.clock()
        self._emit_order(o, "AMENDMENT")
        self._execute(o)
        return o

    # ------------------------------------------------------------ triggers, marks
    def _check_triggers(self, symbol: str) -> None:
        last = self.last_px.get(symbol)
        if last is None:
            return
        for o in list(self.stops.get(symbol, ())):
            if o.is_open and triggered(o.trigger_dir, last, o.stop_price):
                self.stops[symbol].remove(o)
                o.is_working = True
                o.working_time = self.clock()
                self._execute_triggered(o)
        for a in list(self.algos.values()):
            if a.status != "NEW" or a.spec.symbol != symbol:
                continue
            spec = a.spec
            ref = last if a.working_type == "CONTRACT_PRICE" else int(self.mark[symbol] / spec.tick)
            if a.trailing:
                if a.trail_fires(ref):
                    self.fire_algo(a)
            elif triggered(a.trigger_dir, ref, a.trigger):
                self.fire_algo(a)

    def _execute_triggered(self, o: Order) -> None:
        """A conditional order's trigger fired: it trades now as a market or limit order."""
        saved = o.trigger_dir
        o.trigger_dir = 0
        self._execute(o)
        o.trigger_dir = saved

    def new_order(self, **kw: object) -> Order:
        """Build an order this core's venue would build (a venue may install its own order class)."""
        return self.order_class(**kw)  # type: ignore[arg-type]

    order_class: type[Order] = Order

    def fire_algo(self, a: AlgoOrder) -> Order | None:
        a.status = "TRIGGERED"
        qty = a.qty
        pos = a.account.position(a.spec.symbol, self.default_leverage, a.position_side)
        if a.close_position:
            qty = int(abs(pos.amt) / a.spec.step)
        if qty <= 0:
            a.status = "EXPIRED"
            return None
        o = self.new_order(
            order_id=self.new_id(),
            market=self.market,
            spec=a.spec,
            account=a.account,
            client_id=a.client_algo_id,
            side=a.side,
            type="MARKET" if a.is_market else "LIMIT",
            tif="GTC",
            price=0 if a.is_market else a.price,
            qty=qty,
            time=self.clock(),
            stop_price=a.trigger,
            reduce_only=a.reduce_only or a.close_position,
            orig_type=a.order_type,
            working_type=a.working_type,
            close_position=a.close_position,
            position_side=a.position_side,
            limit=not a.is_market,
        )
        try:
            self.submit(o)
        except SimError:
            a.status = "REJECTED"
            return None
        a.actual_order_id = o.order_id
        a.status = "FINISHED"
        return o

    def update_marks(self) -> None:
        for s in self.specs:
            self.mark[s] = self.ref_price(s)
            self._check_triggers(s)
