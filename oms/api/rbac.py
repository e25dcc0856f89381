"""Gateway room (oms/api): which role may call which method, and which methods need TOTP.

Touches nothing. Default deny: a method missing from `POLICY` is refused for everyone; the only
unauthenticated methods are the standard health and reflection services (`PUBLIC_PREFIXES`).
Roles: viewer (read), trader (viewer + orders), risk (viewer + kill switch, risk limits, leverage and
margin mode),
admin (everything). Every Admin-service method needs a TOTP second factor.
"""

from __future__ import annotations

from dataclasses import dataclass

READ = frozenset({"viewer", "trader", "risk", "admin"})
TRADE = frozenset({"trader", "admin"})
RISK = frozenset({"risk", "admin"})
ADMIN = frozenset({"admin"})

PUBLIC_PREFIXES = (
    "/grpc.health.v1.Health/",
    "/grpc.reflection.v1alpha.ServerReflection/",
    "/grpc.reflection.v1.ServerReflection/",
)


@dataclass(frozen=True, slots=True)
class Rule:
    roles: frozenset[str]
    totp: bool = False
    cost: int = 1  # rate-limit tokens charged at call time (orders inside batches/streams charged per order)


POLICY: dict[str, Rule] = {
    "/oms.v1.Gateway/SubmitOrder": Rule(TRADE),
    "/oms.v1.Gateway/ModifyOrder": Rule(TRADE),
    "/oms.v1.Gateway/CancelOrder": Rule(TRADE),
    "/oms.v1.Gateway/CancelAll": Rule(TRADE | RISK),
    "/oms.v1.Gateway/SubmitBatch": Rule(TRADE, cost=0),
    "/oms.v1.Gateway/OrderStream": Rule(TRADE, cost=0),
    "/oms.v1.Gateway/SubmitOco": Rule(TRADE, cost=0),  # charged per order by the handler
    "/oms.v1.Gateway/SubmitBracket": Rule(TRADE, cost=0),
    "/oms.v1.Gateway/GetOrder": Rule(READ),
    "/oms.v1.Gateway/ListOrders": Rule(READ),
    "/oms.v1.Gateway/GetPositions": Rule(READ),
    "/oms.v1.Gateway/GetBalances": Rule(READ),
    "/oms.v1.Gateway/StreamEvents": Rule(READ),
    "/oms.v1.Gateway/GetBbo": Rule(READ),
    "/oms.v1.Gateway/GetBook": Rule(READ),
    "/oms.v1.Admin/SetTradingState": Rule(RISK, totp=True),
    "/oms.v1.Admin/SetRiskLimits": Rule(RISK, totp=True),
    "/oms.v1.Admin/RotateKeys": Rule(ADMIN, totp=True),
    "/oms.v1.Admin/SetLeverage": Rule(RISK, totp=True),
    "/oms.v1.Admin/SetMarginMode": Rule(RISK, totp=True),
}


def is_public(method: str) -> bool:
    return method.startswith(PUBLIC_PREFIXES)


# what each role includes: a caller may act on a token only if every role of that token is covered
COVERS: dict[str, frozenset[str]] = {
    "admin": frozenset({"admin", "risk", "trader", "viewer"}),
    "risk": frozenset({"risk", "viewer"}),
    "trader": frozenset({"trader", "viewer"}),
    "viewer": frozenset({"viewer"}),
}


def roles_within(roles: list[str] | frozenset[str], caller_roles: list[str] | frozenset[str]) -> bool:
    """True when every role in `roles` is one the caller's roles include."""
    covered: set[str] = set()
    for r in caller_roles:
        covered |= COVERS.get(r, frozenset())
    return set(roles) <= covered
