"""Binance simulator room: what every REST request goes through (params, signing, limits, filters).
Counting rate limits is the kit's (kit/ratelimit.py); the answers here are Binance's.

Touches nothing outside this simulator. Parameters come from the raw query string and/or a form body
(the query wins); signatures are verified over the bytes exactly as received (query + body, no
separator, trailing `signature` stripped from whichever part carries it), HMAC-SHA256 hex or Ed25519
base64. Rate limits count request weight per IP per minute and orders per account, answering 429 with
`Retry-After`, then 418 (IP ban) when a client keeps going.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import parse_qsl, unquote_plus

from oms.venues.sim.binance.config import RateLimits
from oms.venues.sim.kit.accounts import Account, Accounts, ApiKey
from oms.venues.sim.kit.errors import SimError
from oms.venues.sim.kit.matching import MarketCore
from oms.venues.sim.kit.ratelimit import RateLimiter as KitRateLimiter
from oms.venues.sim.kit.ratelimit import Window
from oms.venues.sim.kit.spec import SymbolSpec

NONE, USER_STREAM, SIGNED = "NONE", "USER_STREAM", "SIGNED"
_DEC_RE = re.compile(r"^([0-9]{1,20})(\.[0-9]{1,20})?$")


@dataclass
class Req:
    """One parsed REST request as a handler sees it."""

    method: str
    path: str
    params: dict[str, str]
    core: MarketCore
    now: int
    ip: str
    svc: Any = None  # the server: snapshot(), rate_limits(), listen_new/keep/close()
    key: ApiKey | None = None

    @property
    def account(self) -> Account:
        assert self.key is not None
        return self.key.account

    def get(self, name: str, default: str | None = None) -> str | None:
        v = self.params.get(name)
        return default if v is None or v == "" else v

    def need(self, name: str) -> str:
        v = self.params.get(name)
        if v is None or v == "":
            raise SimError(-1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed.")
        return v

    def int_param(self, name: str, default: int | None = None) -> int | None:
        v = self.get(name)
        if v is None:
            return default
        try:
            return int(v)
        except ValueError:
            raise SimError(
                -1100, f"Illegal characters found in parameter '{name}'; legal range is '^[0-9]{{1,20}}$'."
            ) from None

    def dec(self, name: str, required: bool = False) -> Decimal | None:
        v = self.need(name) if required else self.get(name)
        if v is None:
            return None
        if not _DEC_RE.match(v):
            raise SimError(
                -1100,
                f"Illegal characters found in parameter '{name}'; legal range is "
                "'^([0-9]{1,20})(\\.[0-9]{1,20})?$'.",
            )
        try:
            return Decimal(v)
        except InvalidOperation:
            raise SimError(-1100, f"Illegal characters found in parameter '{name}'.") from None

    def symbol(self) -> SymbolSpec:
        s = self.need("symbol")
        spec = self.core.specs.get(s)
        if spec is None:
            raise SimError(-1121, "Invalid symbol.")
        return spec


def parse_params(raw_query: str, body: bytes) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in (raw_query, body.decode("utf-8", "replace")):
        seen: set[str] = set()
        for k, v in parse_qsl(part, keep_blank_values=True):
            if k in seen:
                raise SimError(-1101, "Duplicate values for a parameter detected.")
            seen.add(k)
            if part is raw_query or k not in out:
                out[k] = v
    return out


def _strip_signature(part: str) -> tuple[str, str | None]:
    """Remove `signature=...` from a raw query/body; returns (rest, raw signature)."""
    if not part:
        return part, None
    pieces = part.split("&")
    for i, p in enumerate(pieces):
        if p.startswith("signature="):
            sig = p[len("signature=") :]
            return "&".join(pieces[:i] + pieces[i + 1 :]), sig
    return part, None


def hmac_hex(secret: str, payload: str) -> str:
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()


def verify_signature(key: ApiKey, raw_query: str, body: str) -> None:
    q, sig_q = _strip_signature(raw_query)
    b, sig_b = _strip_signature(body)
    sig = sig_q if sig_q is not None else sig_b
    if sig is None or sig == "":
        raise SimError(-1102, "Mandatory parameter 'signature' was not sent, was empty/null, or malformed.")
    payload = q + b
    if key.ed25519_public is not None:
        try:
            raw = base64.b64decode(unquote_plus(sig))
            key.ed25519_public.verify(raw, payload.encode())  # type: ignore[attr-defined]
            return
        except Exception:
            raise SimError(-1022, "Signature for this request is not valid.") from None
    if not hmac.compare_digest(hmac_hex(key.secret, payload), sig.lower()):
        raise SimError(-1022, "Signature for this request is not valid.")


def authenticate(
    req: Req,
    security: str,
    api_key: str | None,
    raw_query: str,
    body: str,
    accounts: Accounts,
    permission: str,
) -> None:
    """API-key, timestamp/recvWindow, signature and permission checks in Binance's order."""
    if security == NONE:
        return
    if not api_key:
        raise SimError(-2014, "API-key format invalid.", 401)
    key = accounts.keys.get(api_key)
    if key is None or key.revoked:
        raise SimError(-2015, "Invalid API-key, IP, or permissions for action.", 401)
    if key.ips and req.ip not in key.ips:
        raise SimError(-2015, "Invalid API-key, IP, or permissions for action.", 401)
    if permission not in key.permissions:
        raise SimError(-2015, "Invalid API-key, IP, or permissions for action.", 401)
    req.key = key
    if security != SIGNED:
        return
    ts = req.get("timestamp")
    if ts is None or not ts.isdigit():
        raise SimError(-1102, "Mandatory parameter 'timestamp' was not sent, was empty/null, or malformed.")
    window = req.int_param("recvWindow", 5000) or 5000
    if window > 60000:
        raise SimError(-1131, "recvWindow must be less than 60000")
    t = int(ts)
    if t >= req.now + 1000:
        raise SimError(-1021, "Timestamp for this request was 1000ms ahead of the server's time.")
    if req.now - t > window:
        raise SimError(-1021, "Timestamp for this request is outside of the recvWindow.")
    verify_signature(key, raw_query, body)


_UNIT = {"10S": "10 SECOND", "1M": "1 MINUTE", "1D": "1 DAY"}


class BinanceRateErrors:
    """Binance's answers to the kit limiter: -1003 (429, then 418 ban) and -1015 with Retry-After."""

    def __init__(self, limits: RateLimits) -> None:
        self.limits = limits

    def banned(self, ip: str, until_ms: int, retry_s: int) -> SimError:
        return SimError(
            -1003,
            f"Way too many requests; IP({ip}) banned until {until_ms}. Please use the "
            "websocket for live updates to avoid bans.",
            418,
            {"Retry-After": str(retry_s)},
        )

    def too_much_weight(self, ip: str, window: Window, retry_s: int) -> SimError:
        return SimError(
            -1003,
            f"Too many requests; current limit of IP({ip}) is {window.limit} requests per minute. "
            "Please use the websocket for live updates to avoid polling the API.",
            429,
            {"Retry-After": str(retry_s)},
        )

    def too_many_orders(self, window: Window, retry_s: int, counts: dict[str, int]) -> SimError:
        return SimError(
            -1015,
            f"Too many new orders; current limit is {window.limit} orders per {_UNIT[window.name]}.",
            429,
            {"Retry-After": str(retry_s), **order_headers(counts)},
        )


def order_headers(counts: dict[str, int]) -> dict[str, str]:
    return {f"X-MBX-ORDER-COUNT-{name}": str(n) for name, n in counts.items()}


class RateLimiter(KitRateLimiter):
    """REQUEST_WEIGHT per IP per minute and ORDERS per account (10 s + 1 day spot, 10 s + 1 min USD-M)."""

    def order_count_rows(self, uid: int, now: int) -> list[dict[str, Any]]:
        """GET .../rateLimit/order: the account's new-order count in each ORDERS window now."""
        names = {"10S": ("SECOND", 10), "1M": ("MINUTE", 1), "1D": ("DAY", 1)}
        rows = []
        for w in self.order_windows:
            interval, num = names[w.name]
            n = self.orders.get((uid, w.name, now // w.span_ms), 0)
            rows.append(
                {
                    "rateLimitType": "ORDERS",
                    "interval": interval,
                    "intervalNum": num,
                    "limit": w.limit,
                    "count": n,
                }
            )
        return rows

    def __init__(self, limits: RateLimits, futures: bool) -> None:
        self.limits = limits
        self.futures = futures
        windows = [Window("10S", 10_000, limits.orders_per_10s)]
        windows.append(
            Window("1M", 60_000, limits.orders_per_minute)
            if futures
            else Window("1D", 86_400_000, limits.orders_per_day)
        )
        super().__init__(
            Window("1M", 60_000, limits.weight_per_minute),
            windows,
            BinanceRateErrors(limits),
            limits.ban_seconds,
            limits.retry_after_cap,
        )

    def exchange_info_limits(self) -> list[dict[str, Any]]:
        lim = self.limits
        rows = [
            {
                "rateLimitType": "REQUEST_WEIGHT",
                "interval": "MINUTE",
                "intervalNum": 1,
                "limit": lim.weight_per_minute,
            },
            {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": lim.orders_per_10s},
        ]
        if self.futures:
            rows.append(
                {
                    "rateLimitType": "ORDERS",
                    "interval": "MINUTE",
                    "intervalNum": 1,
                    "limit": lim.orders_per_minute,
                }
            )
        else:
            rows.append(
                {"rateLimitType": "ORDERS", "interval": "DAY", "intervalNum": 1, "limit": lim.orders_per_day}
            )
            rows.append(
                {"rateLimitType": "RAW_REQUESTS", "interval": "MINUTE", "intervalNum": 5, "limit": 61000}
            )
        return rows


# ---------------------------------------------------------------- filters
def to_ticks(spec: SymbolSpec, price: Decimal, futures: bool) -> int:
    if price < spec.min_price or price > spec.max_price:
        if futures:
            raise SimError(
                -4013 if price < spec.min_price else -4016,
                "Price less than min price."
                if price < spec.min_price
                else f"Limit price can't be higher than {spec.max_price}.",
            )
        raise SimError(-1013, "Filter failure: PRICE_FILTER")
    ticks = price / spec.tick
    if ticks != ticks.to_integral_value():
        if futures:
            raise SimError(-4014, "Price not increased by tick size.")
        raise SimError(-1013, "Filter failure: PRICE_FILTER")
    return int(ticks)


def to_lots(spec: SymbolSpec, qty: Decimal, futures: bool, market_order: bool = False) -> int:
    if qty <= 0:
        if futures:
            raise SimError(-4003, "Quantity less than or equal to zero.")
        raise SimError(-1013, "Filter failure: LOT_SIZE")
    lots = qty / spec.step
    if lots != lots.to_integral_value():
        if futures:
            raise SimError(-1111, "Precision is over the maximum defined for this asset.")
        raise SimError(
            -1013, "Filter failure: MARKET_LOT_SIZE" if market_order else "Filter failure: LOT_SIZE"
        )
    if qty < spec.min_qty or qty > spec.max_qty:
        if futures:
            raise SimError(
                -4005 if qty > spec.max_qty else -4004,
                "Quantity greater than max quantity."
                if qty > spec.max_qty
                else "Quantity less than min quantity.",
            )
        raise SimError(-1013, "Filter failure: LOT_SIZE")
    return int(lots)


def check_notional(
    spec: SymbolSpec,
    price: Decimal,
    qty: Decimal,
    futures: bool,
    reduce_only: bool,
    market_order: bool = False,
) -> None:
    """NOTIONAL as served in exchangeInfo: applyMinToMarket true, applyMaxToMarket false."""
    notional = price * qty
    if futures:
        if notional < spec.min_notional and not reduce_only:
            raise SimError(
                -4164,
                f"Order's notional must be no smaller than {spec.min_notional:f} (unless you "
                "choose reduce only).",
            )
        return
    if notional < spec.min_notional or (notional > spec.max_notional and not market_order):
        raise SimError(-1013, "Filter failure: NOTIONAL")


def check_percent_price(spec: SymbolSpec, side: int, price: Decimal, ref: Decimal, futures: bool) -> None:
    hi, lo = ref * spec.multiplier_up, ref * spec.multiplier_down
    if price <= hi and price >= lo:
        return
    if futures:
        if price > hi:
            raise SimError(-4016, f"Limit price can't be higher than {hi:.{spec.price_precision}f}.")
        raise SimError(-4024, f"Limit price can't be lower than {lo:.{spec.price_precision}f}.")
    raise SimError(-1013, "Filter failure: PERCENT_PRICE_BY_SIDE")


# ---------------------------------------------------------------- history paging parameters
@dataclass(frozen=True)
class History:
    """What a history request asked for: page size, id cursor, the times as sent, and the window
    [lo, hi] rows must fall in (one bound sent: the other is the longest range the venue allows)."""

    limit: int
    from_id: int | None
    start_time: int | None
    end_time: int | None
    lo: int | None
    hi: int | None

    def within(self, t: int) -> bool:
        return (self.lo is None or t >= self.lo) and (self.hi is None or t <= self.hi)


def history_params(
    req: Req,
    *,
    max_span_ms: int,
    id_name: str,
    default_limit: int = 500,
    default_window_ms: int | None = None,
) -> History:
    """`limit` (default 500, at most 1000), the id cursor `id_name` and the time range, checked as
    Binance checks them: a range longer than `max_span_ms` or ending before it starts is -1127. With no
    time and no cursor, `default_window_ms` (USD-M: the last 7 days) bounds what is returned."""
    limit = req.int_param("limit", default_limit) or default_limit
    limit = max(1, min(limit, 1000))
    start, end = req.int_param("startTime"), req.int_param("endTime")
    cursor = req.int_param(id_name)
    lo, hi = start, end
    if start is not None and end is not None:
        if end < start:
            raise SimError(-1127, "startTime must be before endTime.")
        if end - start > max_span_ms:
            hours = max_span_ms // 3_600_000
            span = f"{hours // 24} days" if hours >= 48 else f"{hours} hours"
            raise SimError(-1127, f"More than {span} between startTime and endTime.")
    elif start is not None:
        hi = start + max_span_ms
    elif end is not None:
        lo = end - max_span_ms
    elif cursor is None and default_window_ms is not None:
        lo = req.now - default_window_ms
    return History(limit, cursor, start, end, lo, hi)
