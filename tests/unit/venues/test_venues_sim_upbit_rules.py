"""Upbit simulator rules without a server: the KRW band grid at its edges, the flow quoting only on
that grid as prices move, and the JWT check refusing `alg: none`, a tampered payload and a wrong key."""

from __future__ import annotations

import base64
import json
import uuid
from decimal import Decimal
from types import SimpleNamespace

import jwt
import pytest

from oms.venues.sim.kit.errors import SimError
from oms.venues.sim.upbit import UpbitSim, krw_tick
from oms.venues.sim.upbit.config import on_grid
from oms.venues.sim.upbit.rules import NAMES, check_query_hash, jwt_claims

D = Decimal
SECRET = "s" * 64
KEY = SimpleNamespace(key="ak", secret=SECRET)


@pytest.mark.parametrize(
    ("price", "unit"),
    [
        ("2000000", "1000"),
        ("1999000", "1000"),
        ("1000000", "1000"),
        ("999500", "500"),
        ("500000", "500"),
        ("499900", "100"),
        ("100000", "100"),
        ("99950", "50"),
        ("50000", "50"),
        ("49990", "10"),
        ("10000", "10"),
        ("9995", "5"),
        ("5000", "5"),
        ("4999", "1"),
        ("100", "1"),
        ("99.99", "0.01"),
    ],
)
def test_band_edges(price: str, unit: str) -> None:
    assert krw_tick(D(price)) == D(unit)


def test_grid_checks() -> None:
    assert on_grid(D("140000000")) and not on_grid(D("140000500")) and not on_grid(D("0"))
    assert (
        on_grid(D("999500")) and not on_grid(D("999550")) and on_grid(D("1401")) and not on_grid(D("1401.5"))
    )


def test_flow_quotes_stay_on_the_grid() -> None:
    sim = UpbitSim(seed=11, flow=False)
    for _ in range(200):
        sim.flow.step()
    for sym, book in sim.core.books.items():
        tick = sim.core.specs[sym].tick
        prices = [tick * p for p in book.bid_px + book.ask_px]
        assert prices and all(on_grid(p) for p in prices), sym


def _name(e: pytest.ExceptionInfo[SimError]) -> str:
    return NAMES[e.value.code]


def test_jwt_refusals() -> None:
    good = jwt.encode({"access_key": "ak", "nonce": str(uuid.uuid4())}, SECRET, algorithm="HS512")
    claims, key = jwt_claims("Bearer " + good, {"ak": KEY}.get)
    assert key is KEY and claims["access_key"] == "ak"
    h, p, s = good.split(".")
    forged = (
        base64.urlsafe_b64encode(json.dumps({"access_key": "ak", "nonce": "x"}).encode()).decode().rstrip("=")
    )
    none_alg = base64.urlsafe_b64encode(b'{"alg":"none","typ":"JWT"}').decode().rstrip("=")
    for token in (f"{h}.{forged}.{s}", f"{none_alg}.{p}.", good + "x", "garbage", ""):
        with pytest.raises(SimError) as e:
            jwt_claims("Bearer " + token, {"ak": KEY}.get)
        assert _name(e) == "jwt_verification" and e.value.status == 401
    with pytest.raises(SimError) as e:
        jwt_claims("Bearer " + good, {}.get)
    assert _name(e) == "invalid_access_key"
    no_nonce = jwt.encode({"access_key": "ak"}, SECRET, algorithm="HS256")
    with pytest.raises(SimError) as e:
        jwt_claims("Bearer " + no_nonce, {"ak": KEY}.get)
    assert _name(e) == "jwt_verification"


def test_query_hash() -> None:
    import hashlib

    q = "market=KRW-BTC&states[]=wait&states[]=done"
    check_query_hash({"query_hash": hashlib.sha512(q.encode()).hexdigest()}, [q])
    check_query_hash({}, [""])  # no parameters, no hash needed
    with pytest.raises(SimError) as e:
        check_query_hash({"query_hash": hashlib.sha512(b"market=KRW-ETH").hexdigest()}, [q])
    assert _name(e) == "invalid_query_payload"
    with pytest.raises(SimError):
        check_query_hash({"query_hash": "00", "query_hash_alg": "MD5"}, [q])
