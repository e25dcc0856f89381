"""Upbit simulator room: the simulated venue's static description (KRW markets, the KRW price-band tick
grid, the minimum order total, fees, balances, per-group request limits).

Touches nothing outside this simulator. Plain data so a test can shrink limits or change balances;
`default_config()` gives KRW-BTC, KRW-ETH and KRW-USDT (quote first, as Upbit names them).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from oms.venues.sim.kit.spec import SymbolSpec

D = Decimal
MARKET = "krw"  # the kit core's market name: every simulated market is quoted in KRW
MIN_TOTAL = D("5000")  # Upbit's KRW minimum order total
# Upbit's KRW price bands (docs.upbit.com "원화 마켓 주문 가격 단위", from 2025-07-31): the order price
# unit for a price at or above each floor. Below 100 KRW the pre-change units are kept.
KRW_BANDS: tuple[tuple[Decimal, Decimal], ...] = (
    (D("1000000"), D("1000")),
    (D("500000"), D("500")),
    (D("100000"), D("100")),
    (D("50000"), D("50")),
    (D("10000"), D("10")),
    (D("5000"), D("5")),
    (D("100"), D("1")),
    (D("10"), D("0.01")),
    (D("1"), D("0.001")),
    (D("0.1"), D("0.0001")),
    (D("0"), D("0.00001")),
)


def krw_tick(price: Decimal) -> Decimal:
    """The KRW order price unit for `price` (the band it falls in)."""
    for floor, unit in KRW_BANDS:
        if price >= floor:
            return unit
    return KRW_BANDS[-1][1]


def on_grid(price: Decimal) -> bool:
    return price > 0 and price % krw_tick(price) == 0


@dataclass
class UpbitConfig:
    symbols: list[SymbolSpec] = field(default_factory=list)
    fee: Decimal = field(default_factory=lambda: D("0.0005"))  # Upbit KRW market: 0.05% maker and taker
    balances: dict[str, Decimal] = field(
        default_factory=lambda: {"KRW": D("100000000"), "BTC": D("1"), "ETH": D("10"), "USDT": D("10000")}
    )
    order_per_s: int = 8  # group "order" per account (Upbit: 8/s)
    default_per_s: int = 30  # group "default" per account (other Exchange API calls)
    public_per_s: int = 10  # groups market / ticker / orderbook / trade per IP
    per_min: int = 1800  # reported as `min=` in Remaining-Req (Upbit's per-minute budget)
    flow: bool = True
    flow_interval_ms: int = 100
    book_interval_ms: int = 100  # orderbook pushes at most this often
    book_levels: int = 15  # Upbit's orderbook carries 15 units (30 on request)
    maker_krw: Decimal = field(default_factory=lambda: D("3000000"))  # market maker quote size per level


def _spec(symbol: str, price: str, tick: str) -> SymbolSpec:
    quote, base = symbol.split("-")
    return SymbolSpec(
        symbol=symbol,
        market=MARKET,
        base=base,
        quote=quote,
        tick=D(tick),  # the finest unit this market can reach; the band grid is checked on top
        step=D("0.00000001"),
        min_qty=D("0.00000001"),
        max_qty=D("100000000"),
        min_notional=MIN_TOTAL,
        max_notional=D("1000000000"),
        start_price=D(price),
        min_price=D(tick),
        max_price=D("10000000000"),
        max_num_orders=300,
    )


def default_config() -> UpbitConfig:
    return UpbitConfig(
        symbols=[
            _spec("KRW-BTC", "140000000", "1"),
            _spec("KRW-ETH", "5000000", "1"),
            _spec("KRW-USDT", "1400", "0.01"),
        ]
    )
