"""Binance simulator room: the matching engine of one market (spot or USD-M) and its side effects.

Touches nothing outside this simulator. Price-time priority per symbol (book.py), limit / market /
IOC / FOK / post-only (LIMIT_MAKER, GTX) / reduce-only, spot stop and take-profit orders, USD-M algo
(conditional) orders, partial fills, maker/taker fees, spot balance locking and USD-M positions with
leverage and mark price. Every state change is pushed to two sinks the WebSocket layer installs:
`market_sink(symbol, kind, payload)` and `user_sink(account, payload)`.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from oms.venues.sim.binance.accounts import Account, Accounts
from oms.venues.sim.binance.book import Book
from oms.venues.sim.binance.config import SimConfig, SymbolSpec
from oms.venues.sim.binance.orders import (
    Order,
    execution_report,
    fmt,
    order_trade_update,
)

ZERO = Decimal(0)


class SimError(Exception):
    """A Binance error answer: HTTP status, code and message exactly as the venue sends them."""

    def __init__(self, code: int, msg: str, status: int = 400, headers: dict[str, str] | None = None) -> None:
        super().__init__(msg)
        self.code = code
        self.msg = msg
        self.status = status
        self.headers = headers or {}


INSUFFICIENT = "Account has insufficient balance for requested action."
ORDER_HISTORY = 200_000  # finished user orders kept queryable (oldest forgotten first)
TRADE_HISTORY = 100_000  # myTrades rows kept per account
STP_MODES = ("EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH")
SPOT_STOP_TYPES = {"STOP_LOSS", "STOP_LOSS_LIMIT", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT"}


@dataclass(eq=False)
class AlgoOrder:
    """A USD-M conditional order waiting for its trigger (POST /fapi/v1/algoOrder)."""

    algo_id: int
    client_algo_id: str
    account: Account
    spec: SymbolSpec
    side: int
    order_type: str  # STOP, STOP_MARKET, TAKE_PROFIT, TAKE_PROFIT_MARKET
    qty: int
    price: int
    trigger: int
    working_type: str
    reduce_only: bool
    close_position: bool
    tif: str
    time: int
    status: str = "NEW"
    actual_order_id: int = 0
    position_side: str = "BOTH"
    callback_rate: Decimal = ZERO  # TRAILING_STOP_MARKET: retrace in percent
    activate: int = 0  # TRAILING_STOP_MARKET: activation price in ticks (0 = active at once)
    extreme: int = 0  # best price seen since activation (high for a SELL, low for a BUY)

    def trail_fires(self, ref: int) -> bool:
        """Track the extreme; True when the price has retraced callback_rate % from it."""
        if not self.extreme:
            if self.activate and (ref < self.activate if self.side < 0 else ref > self.activate):
                return False
            self.extreme = ref
        if self.side < 0:
            self.extreme = max(self.extreme, ref)
            return ref <= self.extreme * (1 - self.callback_rate / 100)
        self.extreme = min(self.extreme, ref)
        return ref >= self.extreme * (1 + self.callback_rate / 100)


def triggered(kind: str, side: int, price: int, trigger: int) -> bool:
    stop_like = kind.startswith("STOP")
    if stop_like:
        return price >= trigger if side > 0 else price <= trigger
    return price <= trigger if side > 0 else price >= trigger


class MarketCore:
    def __init__(self, market: str, cfg: SimConfig, accounts: Accounts, clock: Callable[[], int]) -> None:
        self.market = market
        self.cfg = cfg
        self.accounts = accounts
        self.clock = clock
        self.specs: dict[str, SymbolSpec] = {s.symbol: s for s in cfg.symbols if s.market == market}
        self.books: dict[str, Book] = {s: Book() for s in self.specs}
        self.orders: dict[int, Order] = {}
        self.by_client: dict[tuple[int, str, str], Order] = {}
        self.open_ids: dict[tuple[int, str], set[int]] = {}
        self.stops: dict[str, list[Order]] = {s: [] for s in self.specs}
        self.algos: dict[int, AlgoOrder] = {}
        self.last_px: dict[str, int] = {}
        self.mark: dict[str, Decimal] = {s: sp.start_price for s, sp in self.specs.items()}
        self.public_trades: dict[str, deque] = {s: deque(maxlen=1000) for s in self.specs}
        self.my_trades: dict[int, deque[dict]] = {}
        self._done: deque[Order] = deque()
        self.trade_id = 0
        self.next_id = 1_000_000 if market == "spot" else 8_000_000
        self.exec_id = 0
        self.status: dict[str, str] = {s: sp.status for s, sp in self.specs.items()}
        self._bbo: dict[str, tuple] = {}
        self.market_sink: Callable[[str, str, dict], None] = lambda s, k, p: None
        self.user_sink: Callable[[Account, dict], None] = lambda a, p: None
        if market == "spot":
            self.maker_fee, self.taker_fee = cfg.spot_maker_fee, cfg.spot_taker_fee
        else:
            self.maker_fee, self.taker_fee = cfg.futures_maker_fee, cfg.futures_taker_fee

    # ------------------------------------------------------------ helpers
    def new_id(self) -> int:
        self.next_id += 1
        return self.next_id

    def fmt_px(self, spec: SymbolSpec, ticks: int) -> str:
        return fmt(self.market, spec.tick * ticks, spec.price_precision)

    def fmt_qty(self, spec: SymbolSpec, lots: int) -> str:
        return fmt(self.market, spec.step * lots, spec.qty_precision)

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
            raise SimError(-2013, "Order does not exist.")
        return o

    def _emit_order(self, o: Order, exec_type: str, last: dict | None = None) -> None:
        if o.account.unlimited:
            return
        now = self.clock()
        if self.market == "spot":
            self.exec_id += 1
            self.user_sink(o.account, execution_report(o, exec_type, now, last, self.exec_id))
        else:
            self.user_sink(o.account, order_trade_update(o, exec_type, now, last))

    def emit_balances(
        self, account: Account, assets: set[str], reason: str = "ORDER", symbols: set[str] | None = None
    ) -> None:
        if account.unlimited:
            return
        now = self.clock()
        if self.market == "spot":
            rows = [
                {
                    "a": a,
                    "f": fmt("spot", account.spot.get(a, [ZERO, ZERO])[0]),
                    "l": fmt("spot", account.spot.get(a, [ZERO, ZERO])[1]),
                }
                for a in sorted(assets)
            ]
            self.user_sink(account, {"e": "outboundAccountPosition", "E": now, "u": now, "B": rows})
            return
        bal = [
            {
                "a": a,
                "wb": fmt("usdm", account.wallet.get(a, ZERO), 8),
                "cw": fmt("usdm", account.wallet.get(a, ZERO), 8),
                "bc": "0",
            }
            for a in sorted(assets)
        ]
        pos = []
        sides = ("LONG", "SHORT") if account.dual_side else ("BOTH",)
        for s in sorted(symbols or ()):
            for side in sides:
                p = account.position(s, self.cfg.default_leverage, side)
                sp = self.specs[s]
                pos.append(
                    {
                        "s": s,
                        "pa": fmt("usdm", p.amt, sp.qty_precision),
                        "ep": fmt("usdm", p.entry, 8),
                        "bep": fmt("usdm", p.entry, 8),
                        "cr": "0",
                        "up": fmt("usdm", p.upnl(self.mark[s]), 8),
                        "mt": p.margin_type,
                        "iw": "0",
                        "ps": p.side,
                    }
                )
        self.user_sink(
            account, {"e": "ACCOUNT_UPDATE", "E": now, "T": now, "a": {"m": reason, "B": bal, "P": pos}}
        )

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
        spec = self.specs[symbol]
        now = self.clock()
        payload: dict[str, Any] = {
            "u": book.update_id,
            "s": symbol,
            "b": self.fmt_px(spec, bbo[0][0]),
            "B": self.fmt_qty(spec, bbo[0][1]),
            "a": self.fmt_px(spec, bbo[1][0]),
            "A": self.fmt_qty(spec, bbo[1][1]),
        }
        if self.market != "spot":
            payload = {
                "e": "bookTicker",
                "u": book.update_id,
                "s": symbol,
                "b": payload["b"],
                "B": payload["B"],
                "a": payload["a"],
                "A": payload["A"],
                "T": now,
                "E": now,
            }
        self.market_sink(symbol, "bookTicker", payload)

    # ------------------------------------------------------------ submit
    def submit(self, o: Order) -> Order:
        """Accept, match and (maybe) rest an order; raises SimError for venue rejects."""
        sym = o.spec.symbol
        if self.status[sym] != "TRADING":
            raise SimError(-2010 if self.market == "spot" else -4000, "Market is closed.")
        key = (o.account.uid, sym, o.client_id)
        existing = self.by_client.get(key)
        if existing is not None and existing.is_open:
            raise SimError(-2010 if self.market == "spot" else -4015, "Duplicate order sent.")
        if len(self.open_ids.get((o.account.uid, sym), ())) >= o.spec.max_num_orders:
            raise SimError(-1013 if self.market == "spot" else -4016, "Filter failure: MAX_NUM_ORDERS")
        book = self.books[sym]
        if o.type in SPOT_STOP_TYPES:
            last = self.last_px.get(sym)
            if last is not None and triggered(o.type, o.side, last, o.stop_price):
                raise SimError(-2010, "Stop price would trigger immediately.")
        post_only = o.type == "LIMIT_MAKER" or o.tif == "GTX"
        if post_only:
            best = book.best_ask() if o.side > 0 else book.best_bid()
            if best is not None and (o.price >= best if o.side > 0 else o.price <= best):
                if self.market == "spot":
                    raise SimError(-2010, "Order would immediately match and take.")
                raise SimError(
                    -5022,
                    "Due to the order could not be executed as maker, the Post Only order will be rejected.",
                )
        limit_px = o.price if o.type in ("LIMIT", "LIMIT_MAKER") else None
        if o.tif == "FOK" and book.crossing_lots(o.side, limit_px, o.qty) < o.qty and self.market != "spot":
            raise SimError(
                -5021, "Due to the order could not be filled immediately, the FOK order has been rejected."
            )
        if self.market == "spot":
            self._spot_lock(o, book)
        else:
            self._futures_check(o, book)
        self.orders[o.order_id] = o
        self.by_client[key] = o
        o.update_time = o.time
        if o.type in SPOT_STOP_TYPES:
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

    def _spot_lock(self, o: Order, book: Book) -> None:
        spec = o.spec
        if o.side > 0:
            asset = spec.quote
            if o.type == "MARKET":
                amount = o.quote_order_qty or self._cost_estimate(book, o.qty, spec)
            else:
                ref = o.price if o.price else o.stop_price
                amount = spec.tick * ref * spec.step * o.qty
        else:
            asset = spec.base
            amount = spec.step * o.qty
        if o.type == "MARKET" and o.side < 0 and o.quote_order_qty:
            amount = o.account.free(asset)  # sell for a quote amount: lock what is needed at fill time
            amount = min(amount, self._qty_for_quote(book, o.quote_order_qty, spec))
        if amount <= 0 and o.type == "MARKET" and not book.best_queue(o.side):
            amount = ZERO
        if not o.account.lock(asset, amount):
            raise SimError(-2010, INSUFFICIENT)
        o.locked, o.lock_asset = amount, asset

    def _cost_estimate(self, book: Book, lots: int, spec: SymbolSpec) -> Decimal:
        cost, left = ZERO, lots
        for px, q in book.levels(-1, 10_000):
            take = min(q, left)
            cost += spec.tick * px * spec.step * take
            left -= take
            if left == 0:
                break
        return cost

    def _qty_for_quote(self, book: Book, quote: Decimal, spec: SymbolSpec) -> Decimal:
        qty, left = ZERO, quote
        for px, q in book.levels(1, 10_000):
            p = spec.tick * px
            lvl = spec.step * q
            if p * lvl >= left:
                return qty + left / p
            qty += lvl
            left -= p * lvl
        return qty

    def _futures_check(self, o: Order, book: Book) -> None:
        acct = o.account
        if acct.unlimited:
            return
        pos = acct.position(o.spec.symbol, self.cfg.default_leverage, o.position_side)
        qty = o.spec.step * o.qty
        if o.position_side != "BOTH":  # hedge mode: a BUY on LONG / SELL on SHORT opens, the rest closes
            opens = (o.position_side == "LONG") == (o.side > 0)
            if not opens and qty > abs(pos.amt):
                raise SimError(-2022, "ReduceOnly Order is rejected.")
            if not opens:
                return
        elif o.reduce_only:
            if pos.amt == 0 or (pos.amt > 0) == (o.side > 0) or qty > abs(pos.amt):
                raise SimError(-2022, "ReduceOnly Order is rejected.")
            return
        ref = o.spec.tick * o.price if o.price else self.ref_price(o.spec.symbol)
        opening = qty
        if pos.amt and (pos.amt > 0) != (o.side > 0):
            opening = max(ZERO, qty - abs(pos.amt))
        need = opening * ref / pos.leverage
        for other in self.open_orders(acct):
            if not other.reduce_only:
                need += (
                    other.spec.step
                    * other.leaves
                    * other.spec.tick
                    * other.price
                    / max(1, acct.position(other.spec.symbol, self.cfg.default_leverage).leverage)
                )
        avail = acct.wallet.get(o.spec.quote, ZERO) + acct.upnl(self.mark) - acct.margin_used(self.mark)
        if need > avail:
            raise SimError(-2019, "Margin is insufficient.")

    # ------------------------------------------------------------ matching
    def _execute(self, t: Order) -> None:
        spec = t.spec
        book = self.books[spec.symbol]
        limit_px = t.price if t.type in ("LIMIT", "LIMIT_MAKER") else None
        if t.tif == "FOK" and book.crossing_lots(t.side, limit_px, t.qty) < t.qty:
            self._finish(t, "EXPIRED")
            return
        quote_left = t.quote_order_qty if (t.type == "MARKET" and t.quote_order_qty) else None
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
        elif t.type in ("LIMIT", "LIMIT_MAKER") and t.tif in ("GTC", "GTX", "GTD", ""):
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
        pub = {
            "id": tid,
            "price": self.fmt_px(spec, price),
            "qty": self.fmt_qty(spec, lots),
            "quoteQty": fmt(self.market, quote, 8),
            "time": now,
            "isBuyerMaker": buyer is m,
            "isBestMatch": True,
        }
        self.public_trades[spec.symbol].append(pub)
        agg = {
            "e": "aggTrade",
            "E": now,
            "s": spec.symbol,
            "a": tid,
            "p": pub["price"],
            "q": pub["qty"],
            "f": tid,
            "l": tid,
            "T": now,
            "m": buyer is m,
        }
        if self.market == "spot":
            agg["M"] = True
        else:
            agg["nq"] = pub["qty"]
        self.market_sink(spec.symbol, "aggTrade", agg)
        for o, maker in ((m, True), (t, False)):
            rate = self.maker_fee if maker else self.taker_fee
            if self.market == "spot":
                fee_asset = spec.base if o.side > 0 else spec.quote
                fee = (qty if o.side > 0 else quote) * rate
                self._spot_settle(o, qty, quote, fee, fee_asset, lots)
                rpnl = ZERO
            else:
                fee_asset = spec.quote
                fee = quote * rate
                rpnl = self._futures_settle(o, qty, px, fee)
            fill = {
                "price": fmt(self.market, px, spec.price_precision),
                "qty": fmt(self.market, qty, spec.qty_precision),
                "commission": fmt(self.market, fee, 8),
                "commissionAsset": fee_asset,
                "tradeId": tid,
                "maker": maker,
                "realizedPnl": fmt(self.market, rpnl, 8),
            }
            if o is t:
                o.fills.append(
                    {k: fill[k] for k in ("price", "qty", "commission", "commissionAsset", "tradeId")}
                )
            if not o.account.unlimited:
                self._record_trade(o, fill, quote, now)
            self._emit_order(o, "TRADE", fill)
            if self.market == "spot":
                self.emit_balances(o.account, {spec.base, spec.quote})
            else:
                self.emit_balances(o.account, {spec.quote}, symbols={spec.symbol})
        if m.leaves == 0:
            self._settle_terminal(m)

    def _record_trade(self, o: Order, fill: dict, quote: Decimal, now: int) -> None:
        spec = o.spec
        row = {
            "symbol": spec.symbol,
            "id": fill["tradeId"],
            "orderId": o.order_id,
            "price": fill["price"],
            "qty": fill["qty"],
            "commission": fill["commission"],
            "commissionAsset": fill["commissionAsset"],
            "time": now,
            "isBuyer": o.side > 0,
            "isMaker": fill["maker"],
        }
        if self.market == "spot":
            row.update({"orderListId": -1, "quoteQty": fmt("spot", quote), "isBestMatch": True})
        else:
            row.update(
                {
                    "side": o.side_name,
                    "quoteQty": fmt("usdm", quote, 8),
                    "realizedPnl": fill["realizedPnl"],
                    "marginAsset": spec.quote,
                    "positionSide": o.position_side,
                    "buyer": o.side > 0,
                    "maker": fill["maker"],
                }
            )
        self.my_trades.setdefault(o.account.uid, deque(maxlen=TRADE_HISTORY)).append(row)

    def _spot_settle(
        self, o: Order, qty: Decimal, quote: Decimal, fee: Decimal, fee_asset: str, lots: int
    ) -> None:
        a = o.account
        spec = o.spec
        if o.side > 0:
            spend = min(quote, o.locked)
            a.spend_locked(spec.quote, spend)
            o.locked -= spend
            if o.type in ("LIMIT", "LIMIT_MAKER", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT") and o.price:
                excess = spec.tick * o.price * qty - quote
                if excess > 0:
                    a.unlock(spec.quote, min(excess, o.locked))
                    o.locked -= min(excess, o.locked)
            a.credit(spec.base, qty - fee)
        else:
            spend = min(qty, o.locked)
            a.spend_locked(spec.base, spend)
            o.locked -= spend
            if spend < qty:
                a.spend_free(spec.base, qty - spend)
            a.credit(spec.quote, quote - fee)

    def _futures_settle(self, o: Order, qty: Decimal, px: Decimal, fee: Decimal) -> Decimal:
        a = o.account
        if a.unlimited:
            return ZERO
        pos = a.position(o.spec.symbol, self.cfg.default_leverage, o.position_side)
        realized = pos.apply(o.side, qty, px)
        pos.update_time = self.clock()
        o.realized_pnl += realized
        q = o.spec.quote
        a.wallet[q] = a.wallet.get(q, ZERO) + realized - fee
        return realized

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
        if self.market == "spot" and not o.account.unlimited:
            self.emit_balances(o.account, {o.spec.base, o.spec.quote})

    # ------------------------------------------------------------ cancel / amend
    def cancel(self, o: Order) -> Order:
        if not o.is_open:
            raise SimError(-2011, "Unknown order sent.")
        sym = o.spec.symbol
        if o in self.stops.get(sym, ()):
            self.stops[sym].remove(o)
        elif o.type in ("LIMIT", "LIMIT_MAKER") or o.is_working:
            self.books[sym].remove(o)
        self._finish(o, "CANCELED")
        self.check_bbo(sym)
        return o

    def cancel_all(self, account: Account, symbol: str) -> list[Order]:
        return [self.cancel(o) for o in self.open_orders(account, symbol)]

    def amend_qty_keep_priority(self, o: Order, new_qty: int) -> Order:
        if not o.is_open:
            raise SimError(-2011, "Unknown order sent.")
        if new_qty >= o.qty or new_qty <= o.executed:
            raise SimError(
                -2038,
                "The requested quantity must be less than the order's quantity and "
                "greater than its executed quantity.",
            )
        delta = o.qty - new_qty
        o.qty = new_qty
        o.update_time = self.clock()
        if o.is_working and o.type in ("LIMIT", "LIMIT_MAKER"):
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

    def modify(self, o: Order, side: int, new_price: int, new_qty: int) -> Order:
        """USD-M PUT /fapi/v1/order: loses priority, may match at once."""
        if not o.is_open:
            raise SimError(-2013, "Order does not exist.")
        if o.type != "LIMIT":
            raise SimError(-1102, "Only LIMIT orders can be modified.")
        if side != o.side:
            raise SimError(-1102, "Mandatory parameter 'side' was not sent, was empty/null, or malformed.")
        if new_qty <= o.executed:
            raise SimError(-4005, "Quantity greater than max quantity.")
        if o.price == new_price and o.qty == new_qty:
            raise SimError(-5027, "No need to modify the order.")
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
            if o.is_open and triggered(o.type, o.side, last, o.stop_price):
                self.stops[symbol].remove(o)
                o.is_working = True
                o.working_time = self.clock()
                self._execute_triggered(o)
        for a in list(self.algos.values()):
            if a.status != "NEW" or a.spec.symbol != symbol:
                continue
            spec = a.spec
            ref = last if a.working_type == "CONTRACT_PRICE" else int(self.mark[symbol] / spec.tick)
            if a.order_type == "TRAILING_STOP_MARKET":
                if a.trail_fires(ref):
                    self.fire_algo(a)
            elif triggered(a.order_type, a.side, ref, a.trigger):
                self.fire_algo(a)

    def _execute_triggered(self, o: Order) -> None:
        limit = o.type.endswith("_LIMIT")
        saved = o.type
        o.type = "LIMIT" if limit else "MARKET"
        self._execute(o)
        o.type = saved

    def fire_algo(self, a: AlgoOrder) -> Order | None:
        a.status = "TRIGGERED"
        market = a.order_type.endswith("MARKET")
        qty = a.qty
        pos = a.account.position(a.spec.symbol, self.cfg.default_leverage, a.position_side)
        if a.close_position:
            qty = int(abs(pos.amt) / a.spec.step)
        if qty <= 0:
            a.status = "EXPIRED"
            return None
        o = Order(
            order_id=self.new_id(),
            market=self.market,
            spec=a.spec,
            account=a.account,
            client_id=a.client_algo_id,
            side=a.side,
            type="MARKET" if market else "LIMIT",
            tif="GTC",
            price=0 if market else a.price,
            qty=qty,
            time=self.clock(),
            stop_price=a.trigger,
            reduce_only=a.reduce_only or a.close_position,
            orig_type=a.order_type,
            working_type=a.working_type,
            close_position=a.close_position,
            position_side=a.position_side,
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
