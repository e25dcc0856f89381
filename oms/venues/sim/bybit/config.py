"""Bybit simulator room: the simulated venue's static description (symbols per category, fees,
balances, per-UID rate limits).

Touches nothing outside this simulator. Plain data so a test can shrink limits or change balances;
`default_config()` gives spot and linear BTCUSDT / ETHUSDT.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from oms.venues.sim.kit.spec import SymbolSpec

D = Decimal
CATEGORIES = ("spot", "linear")


@dataclass
class BybitConfig:
    symbols: list[SymbolSpec] = field(default_factory=list)
    spot_maker_fee: Decimal = field(default_factory=lambda: D("0.001"))
    spot_taker_fee: Decimal = field(default_factory=lambda: D("0.001"))
    linear_maker_fee: Decimal = field(default_factory=lambda: D("0.0002"))
    linear_taker_fee: Decimal = field(default_factory=lambda: D("0.00055"))
    spot_balances: dict[str, Decimal] = field(
        default_factory=lambda: {"USDT": D("100000"), "BTC": D("10"), "ETH": D("100")}
    )
    linear_wallet: dict[str, Decimal] = field(default_factory=lambda: {"USDT": D("100000")})
    default_leverage: int = 10
    max_leverage: int = 100
    trade_per_s: int = 10  # per UID per trade endpoint (create, amend, cancel, batch: Bybit's default)
    read_per_s: int = 50  # per UID per read endpoint
    ip_per_5s: int = 600  # per IP, every endpoint; over it: HTTP 403 and a 10-minute ban
    ip_ban_s: int = 600
    batch_max: dict[str, int] = field(default_factory=lambda: {"spot": 10, "linear": 20})
    flow: bool = True
    flow_interval_ms: int = 100
    book_interval_ms: int = (
        20  # order-book deltas are pushed at most this often (Bybit: 20 ms for depth 1/50)
    )
    book_levels: int = 20
    max_open_orders: int = 500


def _spec(
    category: str,
    symbol: str,
    base: str,
    price: str,
    tick: str,
    step: str,
    min_qty: str,
    max_qty: str,
    min_notional: str,
) -> SymbolSpec:
    return SymbolSpec(
        symbol=symbol,
        market=category,
        base=base,
        quote="USDT",
        tick=D(tick),
        step=D(step),
        min_qty=D(min_qty),
        max_qty=D(max_qty),
        min_notional=D(min_notional),
        max_notional=D("2000000"),
        start_price=D(price),
        min_price=D(tick),
        max_price=D("1999999"),
        multiplier_up=D("1.05") if category == "linear" else D("1.1"),
        multiplier_down=D("0.95") if category == "linear" else D("0.9"),
        max_num_orders=500,
        contract_type="LinearPerpetual" if category == "linear" else "",
    )


def default_config() -> BybitConfig:
    return BybitConfig(
        symbols=[
            _spec("spot", "BTCUSDT", "BTC", "60000.00", "0.01", "0.000001", "0.000048", "71.73956243", "1"),
            _spec("spot", "ETHUSDT", "ETH", "3000.00", "0.01", "0.00001", "0.00062", "1229.2336343", "1"),
            _spec("linear", "BTCUSDT", "BTC", "60000.0", "0.1", "0.001", "0.001", "1190", "5"),
            _spec("linear", "ETHUSDT", "ETH", "3000.00", "0.01", "0.01", "0.01", "8500", "5"),
        ]
    )
