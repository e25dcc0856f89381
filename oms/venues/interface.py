"""Venues room: the typed venue adapter protocol the connector runtime (oms/conn) drives, and its values.

Touches nothing (types only). A venue is one adapter object (`VenueAdapter`) with three faces, as
NautilusTrader splits a venue — an instrument provider, a data client and an execution client — plus
data: `capabilities` per market (CCXT's `has`), `errors` (CCXT's `exceptions = {exact, broad}`), rate
limit header names, its book sequencing rule. The adapter knows the wire (endpoints, signing, request
building, payload → values below); the runtime owns every policy (dispatch, journal, lost-answer
resolution, reconciliation, budget, clock, health, backoff, book sync, rings). The registry
(registry.py) checks an adapter against these Protocols when it registers.

The adapter never sees rings or journals. It gets a `RestGate` (the runtime's REST edge: budget, clock,
error mapping) and the order being worked (`OrderRef`), and answers with the values below, whose
prices and quantities are the venue's decimal strings; the runtime converts them once, with the
instrument's tick and lot, into int64 ticks/lots.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol, runtime_checkable

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
# unified order states (OrderAnswer.status, ExecReport.status)
STATUSES = ("new", "partially_filled", "filled", "canceled", "rejected", "expired", "untriggered")
ENDED = ("filled", "canceled", "rejected", "expired")
# what one user-stream report says happened (ExecReport.exec)
EXECS = ("new", "trade", "canceled", "expired", "rejected", "replaced", "triggered", "other")


@dataclass(frozen=True)
class Capabilities:
    """What a venue market does natively (data, never a code path keyed on a venue name)."""

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
class ErrorTable:
    """A venue's error answers → meaning, as CCXT keeps them: `exact` code → (meaning, note), `broad`
    (code, message substring) → meaning for codes that carry several meanings. Meanings: "rejected",
    "transient", "unknown" (may have taken effect: resolve by query), "unknown_if_mutating",
    "clock" (resync the venue clock, then retry once)."""

    venue: str
    exact: dict[str, tuple[str, str]]
    broad: dict[str, tuple[tuple[str, str], ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class OrderRef:
    """The order the runtime asks the adapter about (its journal entry, as plain values)."""

    oms_id: int
    market: str
    symbol: str
    cid: str  # current wire client id
    side: int  # +1 buy, -1 sell
    order_type: int  # oms.shm.records.ORD_*
    tif: int
    flags: int
    price: str  # decimal string ("0" when none)
    qty: str
    trigger: str
    conditional: bool = False  # lives on the venue's conditional-order endpoint until it fires
    venue_oid: int = 0


@dataclass(frozen=True)
class OrderAnswer:
    """The venue's view of one order (a REST answer or query; NautilusTrader's OrderStatusReport)."""

    cid: str
    venue_oid: int
    status: str  # one of STATUSES
    symbol: str = ""
    executed: Decimal = Decimal(0)
    side: int = 0
    order_type: int = 0
    price: str = "0"
    qty: str = "0"
    ts_ms: int = 0
    conditional: bool = False  # still on the conditional endpoint (not fired)


@dataclass(frozen=True)
class ModifyAnswer:
    cid: str  # the order's wire client id after the modify (new when the venue replaces)
    venue_oid: int


@dataclass(frozen=True)
class ExecReport:
    """One order event from the user data stream (NautilusTrader's order events, venue-neutral)."""

    cid: str
    venue_oid: int
    exec: str  # one of EXECS
    status: str  # one of STATUSES
    symbol: str = ""
    trade_id: int = 0
    last_px: str = "0"
    last_qty: str = "0"
    fee: str = "0"
    maker: bool = False
    ts_ms: int = 0
    reject_code: int = 0


@dataclass(frozen=True)
class FillReport:
    """One of our trades read back by REST (reconciliation)."""

    venue_oid: int
    trade_id: int
    price: str
    qty: str
    fee: str
    maker: bool
    ts_ms: int


@dataclass(frozen=True)
class DepthDiff:
    """A book diff; `first_id`/`last_id`/`prev_id` are whatever the venue's sequencing rule reads."""

    symbol: str
    first_id: int
    last_id: int
    prev_id: int
    bids: Sequence[tuple[str, str]]
    asks: Sequence[tuple[str, str]]
    ts_ms: int = 0


@dataclass(frozen=True)
class BookSnapshot:
    last_id: int
    bids: Sequence[tuple[str, str]]
    asks: Sequence[tuple[str, str]]


@dataclass(frozen=True)
class MarkUpdate:
    symbol: str
    mark: str
    ts_ms: int = 0


@dataclass(frozen=True)
class TradeTick:
    symbol: str
    trade_id: int
    price: str
    qty: str
    aggressor: int  # side of the taker
    ts_ms: int = 0


@dataclass(frozen=True)
class AccountUpdate:
    balances: dict[str, str] = field(default_factory=dict)
    positions: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class StreamControl:
    """A user-stream message that asks the runtime to reconnect (e.g. the listen key expired)."""

    reason: str


@dataclass(frozen=True)
class VenueNotice:
    """A venue-specific user-stream message the adapter itself acts on (`ExecutionClient.on_notice`), e.g.
    a leverage change made elsewhere."""

    kind: str
    data: dict[str, Any] = field(default_factory=dict)


UserMessage = ExecReport | AccountUpdate | StreamControl | VenueNotice
MarketMessage = DepthDiff | MarkUpdate | TradeTick


@dataclass(frozen=True)
class Limit:
    """One rate limit window: kind "weight" or "orders", its length, its limit, and the answer header
    (lower case) in which the venue reports what this key/IP has used of it ("" = none)."""

    kind: str
    interval_ms: int
    limit: int
    header: str = ""


# ------------------------------------------------------------------ what the runtime gives the adapter
class RestGate(Protocol):
    """The runtime's REST edge (oms/conn/rest.py): every request goes through budget, clock and the
    venue's error table. `op` and params are opaque to the runtime; the adapter's transport runs them."""

    recv_window_ms: int

    async def call(
        self, market: str, op: str, *, weight: int = 1, orders: int = 0, signed: bool = True, **params: Any
    ) -> Any: ...


class Transport(Protocol):
    """The venue SDK at the edge (its official SDK where there is one). Raises `VenueHttpError` for an
    answer with an error, `ConnectFailed` when the request surely never left, anything else = answer lost."""

    async def invoke(self, market: str, op: str, params: dict[str, Any], clock_offset_ms: float) -> Any: ...

    def last_headers(self) -> dict[str, str]: ...

    async def server_time_ms(self, market: str) -> float: ...

    def key_id(self) -> str: ...

    async def close(self) -> None: ...


class VenueHttpError(Exception):
    """An error answer from the venue, as the transport saw it (classified by the runtime)."""

    def __init__(
        self, status: int, code: int | str | None, message: str, headers: dict[str, str] | None = None
    ):
        super().__init__(f"HTTP {status} {code}: {message}")
        self.status, self.code, self.message = status, code, message
        self.headers = headers or {}


class ConnectFailed(Exception):
    """The request could not be sent (connection refused, DNS): retry is safe."""


# ------------------------------------------------------------------ the three faces
@runtime_checkable
class InstrumentProvider(Protocol):
    async def instruments(self, rest: RestGate, market: str) -> list[Any]: ...  # list[Instrument]

    async def rate_limits(self, rest: RestGate, market: str) -> tuple[Limit, ...]: ...


@runtime_checkable
class ExecutionClient(Protocol):
    """Order entry and the venue's view of our orders. Raise OmsError (through the RestGate)."""

    def batchable(self, order: OrderRef) -> bool: ...

    def is_conditional(self, order: OrderRef) -> bool: ...  # lives on a conditional endpoint until it fires

    def modify_cid(self, order: OrderRef, gen: int) -> str: ...  # cid the order will carry after a modify

    async def submit(self, rest: RestGate, order: OrderRef) -> OrderAnswer: ...

    async def submit_batch(
        self, rest: RestGate, orders: Sequence[OrderRef]
    ) -> list[OrderAnswer | OmsError]: ...

    async def cancel(self, rest: RestGate, order: OrderRef) -> OrderAnswer: ...

    async def modify(
        self, rest: RestGate, order: OrderRef, price: str, qty: str, new_cid: str
    ) -> ModifyAnswer: ...

    async def query(self, rest: RestGate, order: OrderRef) -> OrderAnswer | None: ...

    async def open_orders(self, rest: RestGate, market: str) -> list[OrderAnswer]: ...

    async def cancel_foreign(self, rest: RestGate, market: str, order: OrderAnswer) -> None: ...

    async def trades(self, rest: RestGate, market: str, symbol: str, start_ms: int) -> list[FillReport]: ...

    async def positions(self, rest: RestGate, market: str) -> dict[str, str]: ...  # symbol → signed qty

    async def balances(self, rest: RestGate, market: str) -> dict[str, str]: ...  # asset → free

    async def user_stream_url(self, rest: RestGate, market: str, ws_url: str) -> tuple[str, str]: ...

    async def user_stream_keepalive(self, rest: RestGate, market: str, token: str) -> None: ...

    def parse_user(self, market: str, msg: dict[str, Any]) -> list[UserMessage]: ...

    # venue controls beyond orders (e.g. leverage, margin mode): `emit(rec)` sends EVENT rows to the engine
    async def control(
        self, rest: RestGate, cmd: Any, instruments: Any, emit: Any
    ) -> bool: ...  # False: not ours

    async def on_notice(self, rest: RestGate, notice: VenueNotice, instruments: Any, emit: Any) -> None: ...

    async def after_connect(
        self, rest: RestGate, market: str, instruments: Any, emit: Any, symbols: set[str] | None
    ) -> None: ...  # after each user-stream (re)connect and reconciliation


@runtime_checkable
class BookRule(Protocol):
    """The venue's depth sequencing: which diffs are stale, which one bridges a snapshot, which follow."""

    def stale(self, last_id: int, ev: DepthDiff) -> bool: ...

    def bridges(self, last_id: int, ev: DepthDiff) -> bool: ...

    def continues(self, last_id: int, ev: DepthDiff) -> bool: ...

    def reaches(self, snapshot_id: int, first_buffered: DepthDiff) -> bool: ...


@runtime_checkable
class DataClient(Protocol):
    def stream_url(
        self, market: str, ws_url: str, symbols: Sequence[str], channels: Sequence[str]
    ) -> str: ...

    def parse_market(self, market: str, msg: dict[str, Any]) -> list[MarketMessage]: ...

    async def snapshot(self, rest: RestGate, market: str, symbol: str, levels: int) -> BookSnapshot: ...

    def book_rule(self, market: str) -> BookRule: ...


@dataclass(frozen=True)
class SimulatorSpec:
    """How the stack runs this venue's local simulator: `oms sim <args> --host H --port P`, where each
    market's endpoints are then (`{base}` = `127.0.0.1:P`), and the permissions a simulator key needs."""

    args: tuple[str, ...]
    endpoints: dict[str, dict[str, str]]  # market → {"rest_url": "http://{base}", "ws_url": ..., ...}
    key_permissions: tuple[str, ...] = ()

    def urls(self, base: str) -> dict[str, dict[str, str]]:
        return {m: {k: v.format(base=base) for k, v in e.items()} for m, e in self.endpoints.items()}


@runtime_checkable
class VenueAdapter(Protocol):
    """One venue: its name, markets, data (capabilities, errors, liveness paths, simulator) and its
    three faces."""

    name: str
    markets: tuple[str, ...]
    capabilities: dict[str, Capabilities]
    errors: ErrorTable
    ping_paths: dict[str, str]  # market → documented unauthenticated liveness path (monitor probes)
    simulator: SimulatorSpec | None  # the local simulator the stack starts in sim mode (None = none)
    instrument_provider: InstrumentProvider
    execution: ExecutionClient
    data: DataClient

    def transport(self, creds: Any, endpoints: dict[str, str], recv_window_ms: int) -> Transport: ...

    def limit_header(self, kind: str, interval_s: int) -> str: ...  # answer header reporting a limit

    def client_id(self, oms_id: int, gen: int) -> str: ...

    def parse_client_id(self, cid: str) -> tuple[int, int] | None: ...


# ------------------------------------------------------------------ value types kept for parsers
@dataclass(frozen=True)
class OrderReport:
    """A venue's view of one order with exact decimals (typed parsers; NautilusTrader's name)."""

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
