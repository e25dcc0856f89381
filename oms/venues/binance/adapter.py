"""Venues room (binance): the Binance adapter — the one object the connector runtime drives, and what
the registry discovers through the `oms.venues` entry point
(`binance = "oms.venues.binance.adapter:ADAPTER"`).

Touches nothing itself; its faces touch the venue through the runtime's `RestGate`. Three faces
(NautilusTrader's split): `instrument_provider` (exchangeInfo → instruments, rate limits),
`execution` (execution.py), `data` (market_data.py); data: `capabilities`, `errors`; the transport
(python-binance at the edge, transport.py); wire client ids `oms-<id>` (`oms-<id>.<n>` after the n-th
spot cancel-replace), so every report maps back to the OMS order without state.
"""

from __future__ import annotations

from typing import Any, ClassVar

from oms.venues.binance.capabilities import CAPABILITIES
from oms.venues.binance.errors import ERRORS
from oms.venues.binance.execution import BinanceExecution
from oms.venues.binance.instruments import parse_exchange_info
from oms.venues.binance.market_data import BinanceData
from oms.venues.binance.transport import BinanceTransport
from oms.venues.interface import Limit, RestGate, SimulatorSpec

CID_PREFIX = "oms-"
_UNIT = {"SECOND": 1_000, "MINUTE": 60_000, "HOUR": 3_600_000, "DAY": 86_400_000}
_LETTER = {"SECOND": "s", "MINUTE": "m", "HOUR": "h", "DAY": "d"}


def client_id(oms_id: int, gen: int = 0) -> str:
    return f"{CID_PREFIX}{oms_id}" if gen == 0 else f"{CID_PREFIX}{oms_id}.{gen}"


def parse_client_id(cid: str) -> tuple[int, int] | None:
    """(oms_id, gen) for one of our wire ids, None for anything else (manual / other systems)."""
    if not cid or not cid.startswith(CID_PREFIX):
        return None
    head, _, gen = cid[len(CID_PREFIX) :].partition(".")
    if not head.isdigit() or (gen and not gen.isdigit()):
        return None
    return int(head), int(gen or 0)


def limit_header(kind: str, interval_s: int) -> str:
    """The answer header in which Binance reports what a key/IP used of one limit."""
    for unit, letter in ((86400, "d"), (3600, "h"), (60, "m"), (1, "s")):
        if interval_s % unit == 0:
            n = interval_s // unit
            return f"x-mbx-used-weight-{n}{letter}" if kind == "weight" else f"x-mbx-order-count-{n}{letter}"
    return ""


def limits_from_exchange_info(rate_limits: list[dict[str, Any]]) -> tuple[Limit, ...]:
    """Limits from Binance's `exchangeInfo.rateLimits` (the venue's own numbers at run time)."""
    out = []
    for rl in rate_limits:
        typ, interval, num = str(rl["rateLimitType"]), str(rl["interval"]), int(rl["intervalNum"])
        kind = {"REQUEST_WEIGHT": "weight", "ORDERS": "orders"}.get(typ)
        if kind:
            out.append(
                Limit(
                    kind,
                    _UNIT[interval] * num,
                    int(rl["limit"]),
                    limit_header(kind, _UNIT[interval] // 1000 * num),
                )
            )
    return tuple(out[:8])


# Binance's published limits (exchangeInfo.rateLimits), for tests and as documentation
SPOT_LIMITS = (
    Limit("weight", 60_000, 6000, "x-mbx-used-weight-1m"),
    Limit("orders", 10_000, 100, "x-mbx-order-count-10s"),
    Limit("orders", 86_400_000, 200_000, "x-mbx-order-count-1d"),
)
USDM_LIMITS = (
    Limit("weight", 60_000, 2400, "x-mbx-used-weight-1m"),
    Limit("orders", 10_000, 300, "x-mbx-order-count-10s"),
    Limit("orders", 60_000, 1200, "x-mbx-order-count-1m"),
)


class BinanceInstruments:
    async def instruments(self, rest: RestGate, market: str) -> list[Any]:
        op = "get_exchange_info" if market == "spot" else "futures_exchange_info"
        info = await rest.call(market, op, weight=20 if market == "spot" else 1, signed=False)
        return parse_exchange_info(info, market)

    async def rate_limits(self, rest: RestGate, market: str) -> tuple[Limit, ...]:
        op = "get_exchange_info" if market == "spot" else "futures_exchange_info"
        info = await rest.call(market, op, weight=20 if market == "spot" else 1, signed=False)
        return limits_from_exchange_info(info.get("rateLimits", []))


class BinanceAdapter:
    name = "binance"
    markets = ("spot", "usdm")
    capabilities = CAPABILITIES
    errors = ERRORS
    ping_paths: ClassVar[dict[str, str]] = {"spot": "/api/v3/ping", "usdm": "/fapi/v1/ping"}
    simulator = SimulatorSpec(
        args=("binance",),
        endpoints={
            "spot": {
                "rest_url": "http://{base}",
                "ws_url": "ws://{base}/ws",
                "ws_api_url": "ws://{base}/ws-api/v3",
            },
            "usdm": {
                "rest_url": "http://{base}",
                "ws_url": "ws://{base}/fstream/ws",
                "ws_api_url": "ws://{base}/ws-fapi/v1",
            },
        },
        key_permissions=("SPOT", "FUTURES"),
    )

    def __init__(self) -> None:
        self.instrument_provider = BinanceInstruments()
        self.execution = BinanceExecution()
        self.data = BinanceData()

    def transport(self, creds: Any, endpoints: dict[str, str], recv_window_ms: int) -> BinanceTransport:
        return BinanceTransport(creds, endpoints, recv_window_ms)

    def limit_header(self, kind: str, interval_s: int) -> str:
        return limit_header(kind, interval_s)

    def client_id(self, oms_id: int, gen: int) -> str:
        return client_id(oms_id, gen)

    def parse_client_id(self, cid: str) -> tuple[int, int] | None:
        return parse_client_id(cid)


ADAPTER = BinanceAdapter()
