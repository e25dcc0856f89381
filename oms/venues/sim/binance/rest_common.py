"""Binance simulator room: what every REST request goes through (params, signing, limits, filters).

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

from oms.venues.sim.binance.accounts import Account, Accounts, ApiKey
from oms.venues.sim.binance.config import RateLimits, SymbolSpec
from oms.venues.sim.binance.core import MarketCore, SimError

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


def span_of(window: str) -> int:
    return {"10S": 10_000, "1M": 60_000, "1D": 86_400_000}[window]


class RateLimiter:
    """REQUEST_WEIGHT per IP per minute and ORDERS per account; 429 then 418 as Binance does."""

    def __init__(self, limits: RateLimits, futures: bool) -> None:
        self.limits = limits
        self.futures = futures
        self.weight: dict[tuple[str, int], int] = {}
        self.orders: dict[tuple[int, str, int], int] = {}
        self.warned_until: dict[str, int] = {}
        self.banned_until: dict[str, int] = {}

    def _ban_check(self, ip: str, now: int) -> None:
        until = self.banned_until.get(ip, 0)
        if now < until:
            raise SimError(
                -1003,
                f"Way too many requests; IP({ip}) banned until {until}. Please use the "
                "websocket for live updates to avoid bans.",
                418,
                {"Retry-After": str(max(1, (until - now + 999) // 1000))},
            )

    def charge(self, ip: str, weight: int, now: int) -> int:
        """Add a request's weight; raises 429/418. Returns the minute's used weight."""
        self._ban_check(ip, now)
        if now < self.warned_until.get(ip, 0):
            until = now + self.limits.ban_seconds * 1000
            self.banned_until[ip] = until
            self.warned_until.pop(ip, None)
            self._ban_check(ip, now)
        minute = now // 60000
        if (ip, minute) not in self.weight:  # a new minute: forget the old ones
            self.weight = {k: v for k, v in self.weight.items() if k[1] >= minute - 1}
        used = self.weight.get((ip, minute), 0) + weight
        self.weight[(ip, minute)] = used
        if used > self.limits.weight_per_minute:
            retry = min(self.limits.retry_after_cap, max(1, ((minute + 1) * 60000 - now + 999) // 1000))
            self.warned_until[ip] = now + retry * 1000
            raise SimError(
                -1003,
                f"Too many requests; current limit of IP({ip}) is "
                f"{self.limits.weight_per_minute} requests per minute. Please use the "
                "websocket for live updates to avoid polling the API.",
                429,
                {"Retry-After": str(retry)},
            )
        return used

    def used_weight(self, ip: str, now: int) -> int:
        return self.weight.get((ip, now // 60000), 0)

    def _windows(self) -> list[tuple[str, int, int]]:
        if self.futures:
            return [
                ("10S", 10_000, self.limits.orders_per_10s),
                ("1M", 60_000, self.limits.orders_per_minute),
            ]
        return [("10S", 10_000, self.limits.orders_per_10s), ("1D", 86_400_000, self.limits.orders_per_day)]

    def order(self, uid: int, now: int) -> dict[str, str]:
        headers: dict[str, str] = {}
        for name, span, limit in self._windows():
            k = (uid, name, now // span)
            if k not in self.orders and len(self.orders) > 10_000:
                self.orders = {
                    kk: v for kk, v in self.orders.items() if kk[2] * span_of(kk[1]) >= now - 86_400_000
                }
            n = self.orders.get(k, 0) + 1
            self.orders[k] = n
            headers[f"X-MBX-ORDER-COUNT-{name}"] = str(n)
            if n > limit:
                unit = {"10S": "10 SECOND", "1M": "1 MINUTE", "1D": "1 DAY"}[name]
                retry = max(1, ((now // span + 1) * span - now + 999) // 1000)
                raise SimError(
                    -1015,
                    f"Too many new orders; current limit is {limit} orders per {unit}.",
                    429,
                    {"Retry-After": str(min(retry, self.limits.retry_after_cap)), **headers},
                )
        return headers

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
