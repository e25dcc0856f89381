"""Venues room: the unified exchange interface every venue adapter implements, and its value types.

Touches nothing (types only). `Exchange` is a `typing.Protocol`; the registry (registry.py) checks an
adapter class against it when the adapter registers, naming any missing or non-async member.
`Capabilities` is data per venue and market: what the venue does natively (batch size, modify,
stop/take-profit/OCO/trailing, post-only, reduce-only, hedge mode), so callers branch on data, never on
venue names. Quantities and prices here are exact `Decimal`s; ticks/lots live in the hot path.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, ClassVar, Protocol, runtime_checkable

from oms.errors import OmsError

ORDER_TYPES = (
    "limit",
    "market",
    "stop_market",
    "stop_limit",
    "take_profit_market",
    "take_profit_limit",
    "trailing_stop_market",
)
TIME_IN_FORCE = ("gtc", "ioc", "fok", "gtx")
STATUSES = ("new", "partially_filled", "filled", "canceled", "rejected", "expired", "pending")


@dataclass(frozen=True)
class Capabilities:
    venue: str
    market: str
    max_batch: int = 0  # 0 = no native batch submit
    max_cancel_batch: int = 0
    native_modify: bool = False  # amend in place (price and/or qty)
    modify_keeps_priority: bool = False
    native_stop: bool = False
    native_take_profit: bool = False
    native_oco: bool = False
    native_trailing: bool = False
    post_only: bool = False
    reduce_only: bool = False
    hedge_mode: bool = False
    cancel_all: bool = False
    positions: bool = False  # derivatives market with positions and leverage
    order_types: tuple[str, ...] = ("limit", "market")
    time_in_force: tuple[str, ...] = ("gtc", "ioc", "fok")
    max_client_id_len: int = 36


@dataclass(frozen=True)
class OrderRequest:
    symbol: str  # the venue's native symbol
    side: int  # +1 buy, -1 sell (oms.shm.records.SIDE_*)
    order_type: str  # one of ORDER_TYPES
    qty: Decimal
    price: Decimal | None = None
    stop_price: Decimal | None = None
    tif: str = "gtc"
    client_id: str = ""
    reduce_only: bool = False
    post_only: bool = False


@dataclass(frozen=True)
class ModifyRequest:
    symbol: str
    side: int
    qty: Decimal
    price: Decimal
    order_id: str | None = None
    client_id: str | None = None


@dataclass(frozen=True)
class OrderReport:
    """A venue's view of one order (NautilusTrader's OrderStatusReport)."""

    venue: str
    market: str
    symbol: str
    order_id: str
    client_id: str
    status: str  # one of STATUSES
    side: int
    order_type: str
    qty: Decimal
    filled_qty: Decimal
    price: Decimal | None = None
    avg_price: Decimal | None = None
    stop_price: Decimal | None = None
    reduce_only: bool = False
    ts_ms: int = 0
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True)
class Balance:
    asset: str
    free: Decimal
    locked: Decimal


@dataclass(frozen=True)
class PositionReport:
    symbol: str
    qty: Decimal  # signed: > 0 long
    entry_price: Decimal
    mark_price: Decimal
    unrealized_pnl: Decimal
    leverage: int | None = None
    side: str = "BOTH"


@dataclass(frozen=True)
class FeeRates:
    symbol: str
    maker: Decimal
    taker: Decimal


class Subscription(Protocol):
    async def close(self) -> None: ...


EventCallback = Callable[[Any], Awaitable[None] | None]
BatchResult = OrderReport | OmsError


@runtime_checkable
class Exchange(Protocol):
    """One venue + market. Every verb raises `Rejected`, `Transient` or `OutcomeUnknown` on failure."""

    venue: ClassVar[str]
    markets: ClassVar[tuple[str, ...]]
    market: str
    capabilities: Capabilities

    async def instruments(self) -> list[Any]: ...  # list[instruments.InstrumentSpec]

    async def submit(self, req: OrderRequest) -> OrderReport: ...

    async def modify(self, req: ModifyRequest) -> OrderReport: ...

    async def cancel(
        self, symbol: str, *, order_id: str | None = None, client_id: str | None = None
    ) -> OrderReport: ...

    async def submit_batch(self, reqs: Sequence[OrderRequest]) -> list[BatchResult]: ...

    async def cancel_all(self, symbol: str) -> list[OrderReport]: ...

    async def open_orders(self, symbol: str | None = None) -> list[OrderReport]: ...

    async def order_status(
        self, symbol: str, *, order_id: str | None = None, client_id: str | None = None
    ) -> OrderReport: ...

    async def balances(self) -> list[Balance]: ...

    async def positions(self) -> list[PositionReport]: ...

    async def fee_rates(self, symbol: str) -> FeeRates: ...

    async def server_time(self) -> int: ...

    async def subscribe_market_data(
        self, symbols: Sequence[str], channels: Sequence[str], on_event: EventCallback
    ) -> Subscription: ...

    async def subscribe_user_data(self, on_event: EventCallback) -> Subscription: ...

    async def close(self) -> None: ...
