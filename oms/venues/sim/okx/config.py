"""OKX simulator room: the simulated venue's static description (SPOT and SWAP instruments with OKX's
tick / lot / min size and the swap's contract value, fees, balances, rate limits).

Touches nothing outside this simulator. Plain data so a test can shrink limits or change balances.
Inside the kit a swap trades in base units: one lot is `lotSz * ctVal` BTC; REST and WS speak contracts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from oms.venues.sim.kit.spec import SymbolSpec

D = Decimal
MARKETS = ("SPOT", "SWAP")


@dataclass
class OkxConfig:
    symbols: list[SymbolSpec] = field(default_factory=list)
    ct_val: dict[str, Decimal] = field(default_factory=lambda: {"BTC-USDT-SWAP": D("0.01")})
    spot_maker_fee: Decimal = field(default_factory=lambda: D("0.0008"))
    spot_taker_fee: Decimal = field(default_factory=lambda: D("0.001"))
    swap_maker_fee: Decimal = field(default_factory=lambda: D("0.0002"))
    swap_taker_fee: Decimal = field(default_factory=lambda: D("0.0005"))
    spot_balances: dict[str, Decimal] = field(default_factory=lambda: {"USDT": D("100000"), "BTC": D("10")})
    swap_wallet: dict[str, Decimal] = field(default_factory=lambda: {"USDT": D("100000")})
    default_leverage: int = 10
    max_leverage: int = 100
    trade_per_2s: int = 60  # per account per trade endpoint (OKX: 60 requests / 2 s for place-order)
    read_per_2s: int = 20  # per account per read endpoint
    batch_max: int = 20
    flow: bool = True
    flow_interval_ms: int = 100
    book_interval_ms: int = 100  # OKX `books`: updates every 100 ms
    book_levels: int = 20
    book_depth: int = 400  # levels a `books` subscription carries
    ws_idle_s: float = 30.0  # a socket with nothing pushed (not even a pong) this long is closed


def _spec(market: str, inst: str, price: str, tick: str, step: str, min_qty: str, max_qty: str) -> SymbolSpec:
    return SymbolSpec(
        symbol=inst,
        market=market,
        base="BTC",
        quote="USDT",
        tick=D(tick),
        step=D(step),
        min_qty=D(min_qty),
        max_qty=D(max_qty),
        min_notional=D(0),
        max_notional=D("100000000"),
        start_price=D(price),
        min_price=D(tick),
        max_price=D("1999999"),
        multiplier_up=D("1.05"),
        multiplier_down=D("0.95"),
        max_num_orders=500,
        contract_type="linear" if market == "SWAP" else "",
    )


def default_config() -> OkxConfig:
    # BTC-USDT: tickSz 0.1, lotSz 0.00000001, minSz 0.00001. BTC-USDT-SWAP: tickSz 0.1, lotSz 0.01 and
    # minSz 0.01 contracts of ctVal 0.01 BTC, so one kit lot is 0.0001 BTC.
    return OkxConfig(
        symbols=[
            _spec("SPOT", "BTC-USDT", "60000.0", "0.1", "0.00000001", "0.00001", "1000"),
            _spec("SWAP", "BTC-USDT-SWAP", "60000.0", "0.1", "0.0001", "0.0001", "100"),
        ]
    )
