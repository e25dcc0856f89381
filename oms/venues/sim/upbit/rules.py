"""Upbit simulator room: Upbit's error names and messages, the JWT check (HS256/HS512, access_key,
nonce, query_hash) and how orders look on the wire (REST rows, state names, KST timestamps).

Touches nothing outside this simulator. An Upbit error is `{"error": {"name", "message"}}`; `err()`
builds a kit `SimError` whose integer code indexes `NAMES`, so the server can render the name.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from urllib.parse import unquote

from oms.venues.sim.kit.errors import SimError
from oms.venues.sim.kit.orders import Fill
from oms.venues.sim.kit.orders import Order as KitOrder

NAMES = [
    "validation_error",
    "create_bid_error",
    "create_ask_error",
    "insufficient_funds_bid",
    "insufficient_funds_ask",
    "under_min_total_bid",
    "under_min_total_ask",
    "invalid_price_bid",
    "invalid_price_ask",
    "invalid_volume_bid",
    "invalid_volume_ask",
    "jwt_verification",
    "invalid_query_payload",
    "nonce_used",
    "invalid_access_key",
    "out_of_scope",
    "order_not_found",
    "too_many_requests",
    "market_offline",
    "server_error",
]
MESSAGES = {  # Upbit's own messages (docs.upbit.com "API 주요 에러 코드 목록")
    "insufficient_funds_bid": "주문가능한 금액(KRW)이 부족합니다.",
    "insufficient_funds_ask": "주문가능한 금액(코인)이 부족합니다.",
    "under_min_total_bid": "최소주문금액 이상으로 주문해주세요",
    "under_min_total_ask": "최소주문금액 이상으로 주문해주세요",
    "invalid_price_bid": "주문가격 단위를 잘못 입력하셨습니다. 확인 후 시도해주세요.",
    "invalid_price_ask": "주문가격 단위를 잘못 입력하셨습니다. 확인 후 시도해주세요.",
    "jwt_verification": "Jwt 토큰 검증에 실패했습니다.",
    "invalid_query_payload": "JWT 헤더의 페이로드가 올바르지 않습니다.",
    "nonce_used": "이미 요청한 nonce값이 다시 사용되었습니다.",
    "invalid_access_key": "잘못된 엑세스 키입니다.",
    "out_of_scope": "허용되지 않은 기능입니다.",
    "order_not_found": "주문을 찾지 못했습니다.",
    "too_many_requests": "Too many API requests.",
    "market_offline": "현재 거래가 불가능한 마켓입니다.",
}
STATUS = {"order_not_found": 404, "too_many_requests": 429}
UNAUTHORIZED = {
    "jwt_verification",
    "invalid_query_payload",
    "nonce_used",
    "invalid_access_key",
    "out_of_scope",
}


def err(name: str, message: str | None = None, status: int | None = None) -> SimError:
    st = status or STATUS.get(name) or (401 if name in UNAUTHORIZED else 400)
    return SimError(NAMES.index(name), message or MESSAGES.get(name, name), st)


def body(e: SimError) -> dict[str, Any]:
    name = NAMES[e.code] if 0 <= e.code < len(NAMES) else "server_error"
    return {"error": {"name": name, "message": e.msg}}


# The kit core's reasons in Upbit's words (code = index into NAMES; the side is fixed up by the caller).
ERRORS = {
    "market_closed": (NAMES.index("market_offline"), MESSAGES["market_offline"]),
    "duplicate_client_id": (NAMES.index("validation_error"), "identifier already used by this account"),
    "max_open_orders": (NAMES.index("validation_error"), "too many open orders in this market"),
    "trigger_immediately": (NAMES.index("validation_error"), "conditional orders are not served"),
    "insufficient_balance": (NAMES.index("insufficient_funds_bid"), MESSAGES["insufficient_funds_bid"]),
    "reduce_only_rejected": (NAMES.index("validation_error"), "reduce-only is not an Upbit order option"),
    "margin_insufficient": (NAMES.index("validation_error"), "Upbit has no margin"),
    "order_not_found": (NAMES.index("order_not_found"), MESSAGES["order_not_found"]),
    "order_not_open": (NAMES.index("order_not_found"), MESSAGES["order_not_found"]),
    "amend_qty_invalid": (NAMES.index("validation_error"), "orders cannot be amended"),
    "modify_qty_too_small": (NAMES.index("validation_error"), "orders cannot be amended"),
    "modify_unchanged": (NAMES.index("validation_error"), "orders cannot be amended"),
}


@dataclass(eq=False)
class Order(KitOrder):
    """`type` is Upbit's ord_type (limit / price / market / best); `upbit_tif` its time_in_force."""

    upbit_tif: str | None = None


# ---------------------------------------------------------------- JWT
def _b64(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


ALGS = {"HS256": hashlib.sha256, "HS512": hashlib.sha512}


def jwt_claims(auth_header: str, secret_of: Any) -> tuple[dict[str, Any], Any]:
    """Verify `Authorization: Bearer <jwt>`; returns (claims, key). `secret_of(access_key)` gives the
    key (with `.secret`) or None. Raises `jwt_verification` / `invalid_access_key` the Upbit way."""
    scheme, _, token = auth_header.partition(" ")
    if scheme != "Bearer" or token.count(".") != 2:
        raise err("jwt_verification")
    h64, p64, s64 = token.split(".")
    try:
        header = json.loads(_b64(h64))
        claims = json.loads(_b64(p64))
        sig = _b64(s64)
    except (ValueError, binascii.Error):
        raise err("jwt_verification") from None
    if not isinstance(header, dict) or not isinstance(claims, dict) or header.get("alg") not in ALGS:
        raise err("jwt_verification")
    key = secret_of(str(claims.get("access_key", "")))
    if key is None:
        raise err("invalid_access_key")
    want = hmac.new(key.secret.encode(), f"{h64}.{p64}".encode(), ALGS[header["alg"]]).digest()
    if not hmac.compare_digest(want, sig) or not claims.get("nonce"):
        raise err("jwt_verification")
    return claims, key


def check_query_hash(claims: dict[str, Any], candidates: list[str]) -> None:
    """With parameters, `query_hash` must be the SHA-512 (or `query_hash_alg`) hex of the unescaped query."""
    if not any(candidates):
        return
    alg = str(claims.get("query_hash_alg", "SHA512")).upper()
    fn = {"SHA512": hashlib.sha512, "SHA256": hashlib.sha256}.get(alg)
    got = claims.get("query_hash")
    if fn is None or not got:
        raise err("invalid_query_payload")
    for q in candidates:
        for form in {q, unquote(q)}:
            if hmac.compare_digest(fn(form.encode()).hexdigest(), str(got)):
                return
    raise err("invalid_query_payload")


# ---------------------------------------------------------------- wire forms
KST = timezone(timedelta(hours=9))


def kst(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).astimezone(KST).isoformat(timespec="seconds")


def num(d: Decimal) -> str:
    s = format(d.normalize(), "f") if d else "0"
    return s


def state(o: Order) -> str:
    """wait (open), done (filled), cancel (canceled or ended with something left)."""
    if o.is_open:
        return "wait"
    if o.status == "FILLED":
        return "done"
    if o.type == "price" and o.executed and o.cum_quote >= o.quote_order_qty:
        return "done"
    return "cancel"


def paid_fee(o: Order, fills: list[Fill]) -> Decimal:
    """Fees in KRW (the kit takes a buyer's fee in the coin; shown here at the fill price)."""
    tick = o.spec.tick
    return sum((f.fee * tick * f.price if f.fee_asset != "KRW" else f.fee for f in fills), Decimal(0))
