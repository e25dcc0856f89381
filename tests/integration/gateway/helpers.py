"""Small call helpers for the gateway integration tests (metadata, TOTP codes, status capture)."""

from __future__ import annotations

import time
from typing import Any

import grpc
import pyotp

from oms.api.gen.oms.v1 import gateway_pb2_grpc as gw_grpc
from oms.api.gen.oms.v1 import types_pb2 as pb
from oms.client import metadata


def md(token: str, totp_secret: str | None = None, *, at: float | None = None) -> Any:
    code = None
    if totp_secret:
        t = pyotp.TOTP(totp_secret)
        code = t.at(at if at is not None else time.time())
    return metadata(token, code)


def status_of(fn: Any, req: Any, mdata: Any, timeout: float = 5.0) -> tuple[grpc.StatusCode, str, Any]:
    try:
        resp = fn(req, metadata=mdata, timeout=timeout)
        return grpc.StatusCode.OK, "", resp
    except grpc.RpcError as e:
        return e.code(), e.details() or "", e


def limit_order(account: int = 1, **kw: Any) -> pb.SubmitOrder:
    base = dict(
        account=account,
        venue="binance",
        symbol="BTC/USDT",
        side=pb.SIDE_BUY,
        order_type=pb.ORDER_TYPE_LIMIT,
        price="50000",
        quantity="0.001",
    )
    base.update(kw)
    return pb.SubmitOrder(**base)


def stubs(ch: grpc.Channel) -> tuple[gw_grpc.GatewayStub, gw_grpc.AdminStub]:
    return gw_grpc.GatewayStub(ch), gw_grpc.AdminStub(ch)
