"""Binance simulator room: the simulated venue's static description (symbols, filters, limits, fees).

Touches nothing outside this simulator. `SimConfig` is plain data so a test can shrink rate limits or
change balances; `default_config()` gives a realistic spot + USD-M set (BTCUSDT, ETHUSDT on both).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from oms.venues.sim.kit.spec import SymbolSpec

D = Decimal
__all__ = ["RateLimits", "SimConfig", "SymbolSpec", "default_config"]


@dataclass(frozen=True)
class RateLimits:
    """Limits served in exchangeInfo and enforced; tests shrink them to provoke 429/418."""

    weight_per_minute: int = 6000
    orders_per_10s: int = 100
    orders_per_day: int = 200000
    orders_per_minute: int = 1200  # futures
    ban_seconds: int = 120
    retry_after_cap: int = 60


@dataclass
class SimConfig:
    symbols: list[SymbolSpec] = field(default_factory=list)
    spot_limits: RateLimits = field(default_factory=RateLimits)
    futures_limits: RateLimits = field(
        default_factory=lambda: RateLimits(weight_per_minute=2400, orders_per_10s=300)
    )
    spot_maker_fee: Decimal = field(default_factory=lambda: D("0.001"))
    spot_taker_fee: Decimal = field(default_factory=lambda: D("0.001"))
    futures_maker_fee: Decimal = field(default_factory=lambda: D("0.0002"))
    futures_taker_fee: Decimal = field(default_factory=lambda: D("0.0005"))
    spot_balances: dict[str, Decimal] = field(
        default_factory=lambda: {"USDT": D("100000"), "BTC": D("10"), "ETH": D("100"), "BNB": D("100")}
    )
    futures_balances: dict[str, Decimal] = field(default_factory=lambda: {"USDT": D("100000")})
    default_leverage: int = 20
    max_leverage: int = 125
    flow: bool = True  # synthetic random-walk flow moves the books
    flow_interval_ms: int = 100
    book_levels: int = 20  # levels per side the synthetic market maker keeps
    depth_interval_ms: int = 100
    listen_key_ttl_s: int = 3600


def _spot(symbol: str, base: str, price: str, tick: str, step: str, min_notional: str = "5") -> SymbolSpec:
    return SymbolSpec(
        symbol=symbol,
        market="spot",
        base=base,
        quote="USDT",
        tick=D(tick),
        step=D(step),
        min_qty=D(step),
        max_qty=D("9000"),
        min_notional=D(min_notional),
        max_notional=D("9000000"),
        start_price=D(price),
        min_price=D(tick),
    )


def _usdm(
    symbol: str,
    base: str,
    price: str,
    tick: str,
    step: str,
    contract_type: str = "PERPETUAL",
    delivery: int = 4133404800000,
) -> SymbolSpec:
    return SymbolSpec(
        symbol=symbol,
        market="usdm",
        base=base,
        quote="USDT",
        tick=D(tick),
        step=D(step),
        min_qty=D(step),
        max_qty=D("1000"),
        min_notional=D("100") if symbol.startswith("BTC") else D("20"),
        max_notional=D("100000000"),
        start_price=D(price),
        min_price=D(tick),
        multiplier_up=D("1.05"),
        multiplier_down=D("0.95"),
        contract_type=contract_type,
        delivery_date=delivery,
    )


def default_config() -> SimConfig:
    return SimConfig(
        symbols=[
            _spot("BTCUSDT", "BTC", "60000.00", "0.01", "0.00001"),
            _spot("ETHUSDT", "ETH", "3000.00", "0.01", "0.0001"),
            _spot("BNBUSDT", "BNB", "600.0", "0.1", "0.001"),
            _usdm("BTCUSDT", "BTC", "60000.0", "0.1", "0.001"),
            _usdm("ETHUSDT", "ETH", "3000.00", "0.01", "0.001"),
            _usdm("BTCUSDT_260925", "BTC", "61000.0", "0.1", "0.001", "CURRENT_QUARTER", 1790323200000),
        ]
    )
