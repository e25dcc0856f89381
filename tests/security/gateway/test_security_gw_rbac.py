"""Security (gateway): risk limits and token rotation stay within the caller's accounts and roles.

Attacks, each denied by the real gateway (real engine behind it):
- a risk token (account 1) changes a per-instrument or per-venue limit (they apply to every account),
  or a per-account limit of an account it is not scoped to, or a limit "for every account";
- an admin token scoped to account 1 rotates a token that reaches accounts 2 and 3 (and so would get
  a working secret for them); the answer is the same as for a token id that does not exist.
"""

from __future__ import annotations

import grpc
import pytest

from oms.api import rbac
from oms.api.gen.oms.v1 import gateway_pb2 as gw
from oms.api.gen.oms.v1 import types_pb2 as pb
from oms.api.tokens import TokenStore
from oms.client import Client, ClientError
from tests.security.gateway.conftest import Real


def _risk(real: Real) -> Client:
    st = real.st
    return Client(st.target, token=st.tokens["risk"], ca=st.certs.ca_cert, totp_secret=st.totp["risk"])


@pytest.mark.parametrize(
    "limit",
    [
        gw.RiskLimit(name="max_order_qty", account=1, venue="binance", symbol="BTCUSDT", value="0.01"),
        gw.RiskLimit(name="price_deviation_bps", account=1, venue="binance", symbol="BTCUSDT", value="9999"),
        gw.RiskLimit(name="rate_venue_per_s", account=1, venue="binance", value="100000"),
        gw.RiskLimit(name="max_venue_exposure", venue="binance", value="1"),
        gw.RiskLimit(name="max_order_notional", account=2, value="1"),
        gw.RiskLimit(name="max_order_notional", account=0, value="1"),
    ],
    ids=["instrument-qty", "instrument-deviation", "venue-rate", "venue-exposure", "other-account", "all"],
)
def test_risk_token_cannot_change_limits_beyond_its_accounts(real: Real, limit: gw.RiskLimit) -> None:
    with _risk(real) as c, pytest.raises(ClientError) as e:
        c.set_risk_limits([limit])
    assert e.value.status == grpc.StatusCode.PERMISSION_DENIED, e.value.details


def test_risk_token_changes_its_own_accounts_limit(real: Real) -> None:
    with _risk(real) as c:
        res = c.set_risk_limits([gw.RiskLimit(name="max_order_notional", account=1, value="1000000")])
    assert res.acks[0].kind == pb.EVENT_KIND_RISK_LIMIT_CHANGED and not res.acks[0].error, res


def _admin1(real: Real) -> tuple[Client, str]:
    """An admin token scoped to account 1 only (added to the live token file: the gateway re-reads it)."""
    store = TokenStore(real.st.settings.tokens_file)
    rec, tok = store.add("admin-acct1", ["admin"], [1], ["127.0.0.1/32", "::1/128"], rate=1e6, burst=10**6)
    assert rec.totp_secret
    return Client(real.st.target, token=tok, ca=real.st.certs.ca_cert, totp_secret=rec.totp_secret), rec.id


def test_rotate_keys_only_within_the_callers_accounts(real: Real) -> None:
    c, _ = _admin1(real)
    with c:
        wider = real.st.ids["admin"]  # accounts 1, 2, 3
        other = real.st.ids["trader2"]  # account 2
        answers = []
        for tid in (wider, other, "nosuchtoken"):
            with pytest.raises(ClientError) as e:
                c.rotate_token(tid)
            assert e.value.status == grpc.StatusCode.NOT_FOUND
            answers.append(e.value.details.replace(repr(tid), "ID"))
        assert answers[0] == answers[1] == answers[2]  # out of scope looks exactly like unknown
        res = c.rotate_token(real.st.ids["viewer"])  # account 1, viewer: within scope
        assert res.token.startswith("omt_") and res.token_id == real.st.ids["viewer"]
    # the refused rotations left the other tokens working
    with Client(real.st.target, token=real.st.tokens["trader2"], ca=real.st.certs.ca_cert) as t2:
        assert t2.list_orders(2) is not None


def test_roles_within() -> None:
    assert rbac.roles_within(["trader", "viewer"], ["admin"])
    assert rbac.roles_within(["viewer"], ["risk"])
    assert not rbac.roles_within(["admin"], ["risk"])
    assert not rbac.roles_within(["trader"], ["risk"])
    assert not rbac.roles_within(["risk"], ["trader", "viewer"])
