"""Simulator kit room: accounts and settlement for the matching core — spot balance locking and
settlement, derivatives margin checks, position updates, fees and the account ledger.

Touches only the accounts it is handed. Functions of a `MarketCore` (kept apart from matching so each
module stays readable); every reject goes through the core's venue error table.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from oms.venues.sim.kit.book import Book
from oms.venues.sim.kit.orders import Order
from oms.venues.sim.kit.spec import SymbolSpec

if TYPE_CHECKING:
    from oms.venues.sim.kit.matching import MarketCore

ZERO = Decimal(0)


def spot_lock(core: MarketCore, o: Order, book: Book) -> None:
    """Lock what a spot order can spend (quote for a buy, base for a sell); rejects when short."""
    spec = o.spec
    if o.side > 0:
        asset = spec.quote
        if o.is_market:
            amount = o.quote_order_qty or cost_estimate(book, o.qty, spec)
        else:
            ref = o.price if o.price else o.stop_price
            amount = spec.tick * ref * spec.step * o.qty
    else:
        asset = spec.base
        amount = spec.step * o.qty
    if o.is_market and o.side < 0 and o.quote_order_qty:
        amount = o.account.free(asset)  # sell for a quote amount: lock what is needed at fill time
        amount = min(amount, qty_for_quote(book, o.quote_order_qty, spec))
    if amount <= 0 and o.is_market and not book.best_queue(o.side):
        amount = ZERO
    if not o.account.lock(asset, amount):
        raise core.reject("insufficient_balance")
    o.locked, o.lock_asset = amount, asset


def cost_estimate(book: Book, lots: int, spec: SymbolSpec) -> Decimal:
    cost, left = ZERO, lots
    for px, q in book.levels(-1, 10_000):
        take = min(q, left)
        cost += spec.tick * px * spec.step * take
        left -= take
        if left == 0:
            break
    return cost


def qty_for_quote(book: Book, quote: Decimal, spec: SymbolSpec) -> Decimal:
    qty, left = ZERO, quote
    for px, q in book.levels(1, 10_000):
        p = spec.tick * px
        lvl = spec.step * q
        if p * lvl >= left:
            return qty + left / p
        qty += lvl
        left -= p * lvl
    return qty


def margin_check(core: MarketCore, o: Order) -> None:
    """Derivatives: reduce-only and hedge-leg rules, then cross initial margin against what is free."""
    acct = o.account
    if acct.unlimited:
        return
    pos = acct.position(o.spec.symbol, core.default_leverage, o.position_side)
    qty = o.spec.step * o.qty
    if o.position_side != "BOTH":  # hedge mode: a BUY on LONG / SELL on SHORT opens, the rest closes
        opens = (o.position_side == "LONG") == (o.side > 0)
        if not opens and qty > abs(pos.amt):
            raise core.reject("reduce_only_rejected")
        if not opens:
            return
    elif o.reduce_only:
        if pos.amt == 0 or (pos.amt > 0) == (o.side > 0) or qty > abs(pos.amt):
            raise core.reject("reduce_only_rejected")
        return
    ref = o.spec.tick * o.price if o.price else core.ref_price(o.spec.symbol)
    opening = qty
    if pos.amt and (pos.amt > 0) != (o.side > 0):
        opening = max(ZERO, qty - abs(pos.amt))
    need = opening * ref / pos.leverage
    for other in core.open_orders(acct):
        if not other.reduce_only:
            need += (
                other.spec.step
                * other.leaves
                * other.spec.tick
                * other.price
                / max(1, acct.position(other.spec.symbol, core.default_leverage).leverage)
            )
    avail = acct.wallet.get(o.spec.quote, ZERO) + acct.upnl(core.mark) - acct.margin_used(core.mark)
    if need > avail:
        raise core.reject("margin_insufficient")


def spot_settle(o: Order, qty: Decimal, quote: Decimal, fee: Decimal) -> None:
    """Move a spot fill between locked and free balances (the fee comes off what is received)."""
    a = o.account
    spec = o.spec
    if o.side > 0:
        spend = min(quote, o.locked)
        a.spend_locked(spec.quote, spend)
        o.locked -= spend
        if o.limit and o.price:
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


def derivatives_settle(
    core: MarketCore, o: Order, qty: Decimal, px: Decimal, fee: Decimal, trade_id: int
) -> Decimal:
    """Apply a fill to the position, book realized PnL and the fee in the wallet and the ledger."""
    a = o.account
    if a.unlimited:
        return ZERO
    now = core.clock()
    pos = a.position(o.spec.symbol, core.default_leverage, o.position_side)
    realized = pos.apply(o.side, qty, px)
    pos.update_time = now
    o.realized_pnl += realized
    q = o.spec.quote
    a.wallet[q] = a.wallet.get(q, ZERO) + realized - fee
    if realized:
        a.book("REALIZED_PNL", q, realized, o.spec.symbol, now, trade_id)
    if fee:
        a.book("COMMISSION", q, -fee, o.spec.symbol, now, trade_id)
    return realized
