"""Security (gateway): guessing TOTP codes costs the token, then locks it for a growing time, with an
audit record and an alert; guessing tokens from one address is throttled before a scrypt is spent.

Against the real gateway (TLS 1.3, real token file, real audit file) with the real engine behind it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pyotp
import pytest

from oms.api.gen.oms.v1 import gateway_pb2 as gw
from oms.api.tokens import TokenStore
from oms.client import Client, ClientError
from oms.testing import eventually
from tests.integration.gateway.conftest import close_stack, make_stack
from tests.security.gateway.conftest import TOTP_MAX_FAILURES as MAX_FAILURES
from tests.security.gateway.conftest import Real


def _token(real: Real, name: str, **kw: float) -> tuple[str, str, str]:
    store = TokenStore(real.st.settings.tokens_file)
    rec, tok = store.add(
        name,
        ["risk"],
        [1],
        ["127.0.0.1/32", "::1/128"],
        rate=kw.get("rate", 1e6),
        burst=int(kw.get("burst", 10**6)),
    )
    assert rec.totp_secret
    return rec.id, tok, rec.totp_secret


def _halt(real: Real, tok: str, code: str) -> gw.AdminAck:
    with Client(real.st.target, token=tok, ca=real.st.certs.ca_cert, totp=code) as c:
        return c.set_trading_state("active", account=1, reason="totp test")


def _wrong(secret: str) -> str:
    now = pyotp.TOTP(secret)
    valid = {now.at(time.time() + d) for d in (-30, 0, 30)}
    return next(c for c in ("000000", "111111", "222222", "333333") if c not in valid)


def _audit(real: Real) -> list[dict]:
    real.st.gw.gw.audit.flush()
    lines = Path(real.st.settings.audit_file).read_text().splitlines()
    return [json.loads(x) for x in lines if x.strip()]


def test_totp_guessing_locks_the_token_for_a_growing_time(real: Real) -> None:
    alerts: list[str] = []
    real.st.gw.gw.auth.alert = alerts.append  # the gateway's alert path (default: an ERROR log line)
    tid, tok, secret = _token(real, "guessed")
    for lock_s in (1, 2):
        for _ in range(MAX_FAILURES):
            with pytest.raises(ClientError) as e:
                _halt(real, tok, _wrong(secret))
            assert e.value.status == grpc.StatusCode.UNAUTHENTICATED and "invalid" in e.value.details
        with pytest.raises(ClientError) as e:  # locked: even the right code is refused now
            _halt(real, tok, pyotp.TOTP(secret).now())
        assert e.value.status == grpc.StatusCode.UNAUTHENTICATED and "locked" in e.value.details
        with (
            pytest.raises(ClientError) as e,
            Client(real.st.target, token=tok, ca=real.st.certs.ca_cert) as c,
        ):
            c.list_orders(1)  # the whole token is locked, not just the admin methods
        assert "locked" in e.value.details
        locks = [a for a in _audit(real) if a["decision"] == "lock" and a["token_id"] == tid]
        assert locks[-1]["detail"]["lock_s"] == lock_s and locks[-1]["code"] == "UNAUTHENTICATED"
        assert secret not in json.dumps(locks)
        assert len(alerts) == lock_s and tid in alerts[-1]
        # after the lock ends, the right code works again
        ack = eventually(lambda: _try(real, tok, secret), timeout=lock_s + 3)
        assert ack.acks and not ack.acks[0].error


def _try(real: Real, tok: str, secret: str) -> gw.AdminAck | None:
    try:
        return _halt(real, tok, pyotp.TOTP(secret).now())
    except ClientError as e:
        assert "locked" in e.details, e
        return None


def test_wrong_totp_codes_are_charged_to_the_tokens_rate_limit(real: Real) -> None:
    _, tok, secret = _token(real, "slowrisk", rate=0.01, burst=2)
    for _ in range(2):
        with pytest.raises(ClientError) as e:
            _halt(real, tok, _wrong(secret))
        assert e.value.status == grpc.StatusCode.UNAUTHENTICATED
    with pytest.raises(ClientError) as e:  # the bucket is empty: no third guess is even checked
        _halt(real, tok, pyotp.TOTP(secret).now())
    assert e.value.status == grpc.StatusCode.RESOURCE_EXHAUSTED


@pytest.fixture
def throttled(tmp_path_factory: pytest.TempPathFactory, sec_certs) -> Iterator[Real]:  # type: ignore[no-untyped-def]
    # a gateway of its own (its per-peer budget is tiny); no engine needed: ListOrders answers from the
    # gateway's own view
    st = make_stack(
        tmp_path_factory.mktemp("secpeer"), sec_certs, engine=False, peer_auth_rate=0.2, peer_auth_burst=6
    )
    yield Real(st, None, 0, Path(st.settings.tokens_file).parent)  # type: ignore[arg-type]
    close_stack(st)


def test_guessing_tokens_from_one_peer_is_throttled_before_scrypt(throttled: Real) -> None:
    st = throttled.st
    good = Client(st.target, token=st.tokens["trader"], ca=st.certs.ca_cert)
    good.list_orders(1)  # verified once (one scrypt, one unit of the peer's budget), then cached
    tid = st.ids["viewer"]
    codes = []
    t0 = time.monotonic()
    for i in range(40):  # a real token id with guessed secrets: each would cost a ~50 ms scrypt
        with Client(st.target, token=f"omt_{tid}.guess{i:04d}", ca=st.certs.ca_cert) as c:
            try:
                c.list_orders(1)
            except ClientError as e:
                codes.append(e.status)
    elapsed = time.monotonic() - t0
    assert codes.count(grpc.StatusCode.UNAUTHENTICATED) <= 6
    assert codes.count(grpc.StatusCode.RESOURCE_EXHAUSTED) >= 33
    assert len(st.gw.gw.store._neg) <= 6, "a scrypt was spent on a throttled guess"
    assert elapsed < 20
    good.list_orders(1)  # a token verified before is not affected by the peer's throttle
    good.close()
    denials = [a for a in _audit(throttled) if a["code"] == "RESOURCE_EXHAUSTED"]
    assert denials and "too many unauthenticated" in denials[0]["reason"]
