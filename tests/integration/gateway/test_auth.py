"""Gateway auth over real TLS on loopback: roles, tokens, TOTP, IP allowlist, account scope, rate limits,
and the audit trail of every decision."""

from __future__ import annotations

import json
import time

import grpc
import pytest

from oms.api.gen.oms.v1 import gateway_pb2 as gw
from oms.api.gen.oms.v1 import types_pb2 as pb
from oms.api.status import retry_after_of
from oms.api.tokens import TokenStore
from oms.testing import eventually
from tests.integration.gateway.conftest import Stack
from tests.integration.gateway.helpers import limit_order, md, status_of, stubs

OK, DENIED, UNAUTH = grpc.StatusCode.OK, grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.UNAUTHENTICATED


@pytest.mark.parametrize(
    ("who", "submit", "list_", "halt"),
    [
        ("viewer", DENIED, OK, DENIED),
        ("trader", OK, OK, DENIED),
        ("risk", DENIED, OK, OK),
        ("admin", OK, OK, OK),
    ],
)
def test_each_role_allowed_and_denied(
    stack: Stack, who: str, submit: grpc.StatusCode, list_: grpc.StatusCode, halt: grpc.StatusCode
) -> None:
    g, a = stubs(stack.channel())
    tok, secret = stack.tokens[who], stack.totp.get(who)
    code, msg, _ = status_of(g.SubmitOrder, limit_order(), md(tok))
    assert code == submit, msg
    if code == DENIED:
        assert "needs role admin or trader" in msg
    code, msg, _ = status_of(g.ListOrders, gw.ListOrdersRequest(account=1), md(tok))
    assert code == list_, msg
    req = gw.SetTradingState(state=pb.TRADING_STATE_ACTIVE, account=1, reason="role test")
    code, msg, resp = status_of(a.SetTradingState, req, md(tok, secret, at=time.time() - 30))
    assert code == halt, msg
    if code == OK:
        assert resp.acks[0].kind == pb.EVENT_KIND_TRADING_STATE_CHANGED
    # only admin may rotate keys; risk is refused on role before any TOTP is consumed
    code, msg, _ = status_of(
        a.RotateKeys, gw.RotateKeys(token_id=stack.ids["slow"], grace_seconds=3600), md(tok, secret)
    )
    assert code == (OK if who == "admin" else DENIED), msg


def test_missing_wrong_malformed_and_revoked_token(stack: Stack, tmp_path) -> None:
    g, _ = stubs(stack.channel())
    req = gw.ListOrdersRequest(account=1)
    code, msg, _ = status_of(g.ListOrders, req, ())
    assert code == UNAUTH and "missing token" in msg
    code, msg, _ = status_of(g.ListOrders, req, (("authorization", "Basic abc"),))
    assert code == UNAUTH and "Bearer" in msg
    wrong = stack.tokens["viewer"][:-4] + "AAAA"
    code, msg, _ = status_of(g.ListOrders, req, md(wrong))
    assert code == UNAUTH and "invalid, revoked or expired" in msg
    code, msg, _ = status_of(g.ListOrders, req, md("omt_zz.nothex"))
    assert code == UNAUTH
    # revoke through the token file (what `oms tokens revoke` does); the gateway reloads within ~1 s
    store = TokenStore(stack.settings.tokens_file)
    rec, tok = store.add("temp", ["viewer"], [1])
    assert status_of(g.ListOrders, req, md(tok))[0] == OK
    store.revoke(rec.id)
    eventually(
        lambda: status_of(g.ListOrders, req, md(tok))[0] == UNAUTH,
        timeout=5,
        message="revoked token still accepted",
    )


def test_totp_missing_expired_wrong_and_replayed(stack: Stack) -> None:
    _, a = stubs(stack.channel())
    tok, secret = stack.tokens["risk"], stack.totp["risk"]
    lim = gw.SetRiskLimits(limits=[gw.RiskLimit(name="rate_account_per_s", account=1, value="50")])
    code, msg, _ = status_of(a.SetRiskLimits, lim, md(tok))
    assert code == UNAUTH and "x-oms-totp" in msg
    code, msg, _ = status_of(a.SetRiskLimits, lim, md(tok, secret, at=time.time() - 120))
    assert code == UNAUTH and "invalid or expired" in msg
    code, msg, _ = status_of(a.SetRiskLimits, lim, (*md(tok), ("x-oms-totp", "12345x")))
    assert code == UNAUTH
    good = md(tok, secret, at=time.time() + 30)
    code, msg, resp = status_of(a.SetRiskLimits, lim, good)
    assert code == OK, msg
    assert resp.acks[0].kind == pb.EVENT_KIND_RISK_LIMIT_CHANGED and resp.acks[0].reason == 0
    code, msg, _ = status_of(a.SetRiskLimits, lim, good)
    assert code == UNAUTH and "already used" in msg


def test_risk_cannot_change_every_account(stack: Stack) -> None:
    _, a = stubs(stack.channel())
    rec, tok = TokenStore(stack.settings.tokens_file).add("risk-global", ["risk"], [1])
    req = gw.SetTradingState(state=pb.TRADING_STATE_HALTED, account=0, reason="global")
    code, msg, _ = status_of(a.SetTradingState, req, md(tok, rec.totp_secret))
    assert code == DENIED and msg.startswith("account:") and "admin role" in msg


def test_disallowed_ip(stack: Stack) -> None:
    g, _ = stubs(stack.channel())
    code, msg, _ = status_of(g.SubmitOrder, limit_order(), md(stack.tokens["remote"]))
    assert code == DENIED and "127.0.0.1 is not in token" in msg and "10.0.0.0/8" in msg


def test_account_scope(stack: Stack) -> None:
    g, _ = stubs(stack.channel())
    code, msg, _ = status_of(g.SubmitOrder, limit_order(account=2), md(stack.tokens["trader"]))
    assert code == DENIED and "not scoped to account 2" in msg
    code, msg, _ = status_of(g.SubmitOrder, limit_order(account=2), md(stack.tokens["trader2"]))
    assert code == OK, msg
    code, msg, _ = status_of(g.GetPositions, gw.GetPositionsRequest(account=2), md(stack.tokens["viewer"]))
    assert code == DENIED


def test_rate_limit_exceeded_with_retry_info(stack: Stack) -> None:
    g, _ = stubs(stack.channel())
    tok = stack.tokens["slow"]  # 1/s, burst 3
    codes = [status_of(g.ListOrders, gw.ListOrdersRequest(account=1), md(tok)) for _ in range(4)]
    assert [c[0] for c in codes[:3]] == [OK, OK, OK]
    code, msg, err = codes[3]
    assert code == grpc.StatusCode.RESOURCE_EXHAUSTED and "rate limit" in msg
    delay = retry_after_of(err.trailing_metadata())
    assert delay is not None and 0 < delay <= 1.0
    assert dict(err.trailing_metadata())["retry-after-ms"].isdigit()
    # a batch bigger than the bucket is refused as a whole
    code, msg, _ = status_of(g.SubmitBatch, pb.SubmitBatch(orders=[limit_order()] * 5), md(tok))
    assert code == grpc.StatusCode.RESOURCE_EXHAUSTED


def test_every_decision_audited_without_secrets(stack: Stack) -> None:
    g, _ = stubs(stack.channel())
    status_of(g.ListOrders, gw.ListOrdersRequest(account=1), md(stack.tokens["viewer"]))
    status_of(g.SubmitOrder, limit_order(), md(stack.tokens["viewer"]))
    status_of(g.ListOrders, gw.ListOrdersRequest(account=1), ())

    def records() -> list[dict]:
        text = open(stack.settings.audit_file).read()  # noqa: SIM115
        return [json.loads(x) for x in text.splitlines() if x]

    recs = eventually(
        lambda: (
            (r := records())
            and any(x["decision"] == "deny" and x["reason"].startswith("missing token") for x in r)
            and r
        ),
        timeout=5,
    )
    vid = stack.ids["viewer"]
    assert any(
        r["decision"] == "allow" and r["token_id"] == vid and r["method"].endswith("ListOrders") for r in recs
    )
    assert any(
        r["decision"] == "deny" and r["token_id"] == vid and r["code"] == "PERMISSION_DENIED" for r in recs
    )
    text = open(stack.settings.audit_file).read()  # noqa: SIM115
    for tok in stack.tokens.values():
        assert tok not in text and tok.split(".")[1] not in text
