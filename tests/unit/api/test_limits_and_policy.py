"""Token bucket arithmetic, default-deny RBAC table, and the RetryInfo status detail."""

from __future__ import annotations

import math

import grpc

from oms.api import rbac
from oms.api.gen.oms.v1 import gateway_pb2
from oms.api.ratelimit import Limiter, TokenBucket
from oms.api.status import ApiError, retry_after_of, trailers


def test_bucket_refills_at_rate_and_caps_at_burst() -> None:
    b = TokenBucket(rate=10.0, burst=5, last=100.0)
    assert [b.take(1, now=100.0) for _ in range(5)] == [0.0] * 5
    wait = b.take(1, now=100.0)
    assert math.isclose(wait, 0.1)
    assert b.take(1, now=100.11) == 0.0
    assert b.take(5, now=200.0) == 0.0  # capped at burst, not 1000 tokens
    assert b.take(1, now=200.0) > 0
    assert b.take(6, now=300.0) == math.inf  # can never fit


def test_limiter_replaces_bucket_when_limits_change() -> None:
    lim = Limiter()
    assert lim.take("t", 1.0, 1) == 0.0
    assert lim.take("t", 1.0, 1) > 0
    assert lim.take("t", 1000.0, 10) == 0.0


def test_policy_covers_every_rpc_and_admin_needs_totp() -> None:
    methods = {
        f"/oms.v1.{s.name}/{m.name}"
        for s in gateway_pb2.DESCRIPTOR.services_by_name.values()
        for m in s.methods
    }
    assert methods == set(rbac.POLICY)
    for name, rule in rbac.POLICY.items():
        assert rule.totp == name.startswith("/oms.v1.Admin/")
        assert "admin" in rule.roles
    assert rbac.POLICY["/oms.v1.Gateway/SubmitOrder"].roles == {"trader", "admin"}
    assert "viewer" not in rbac.POLICY["/oms.v1.Admin/SetTradingState"].roles
    assert rbac.is_public("/grpc.health.v1.Health/Check") and not rbac.is_public("/oms.v1.Gateway/GetOrder")


def test_retry_info_round_trip() -> None:
    md = trailers(ApiError(grpc.StatusCode.RESOURCE_EXHAUSTED, "slow down", retry_after=0.25))
    assert math.isclose(retry_after_of(md), 0.25)  # type: ignore[arg-type]
    assert dict(md)["retry-after-ms"] == "250"
    assert trailers(ApiError(grpc.StatusCode.INVALID_ARGUMENT, "x")) == ()
