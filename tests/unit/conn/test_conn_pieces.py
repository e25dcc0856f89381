"""Connector room unit tests: wire ids, order translation, the journal, settings, instruments, limits."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import msgspec
import pytest

from oms.config.exchange import RateLimit
from oms.conn import settings as CS
from oms.conn.executor import order_ref
from oms.conn.instruments import Inst, load
from oms.conn.journal import Journal, Tracked
from oms.conn.rest import limits_from_config
from oms.errors import ConfigError, Rejected
from oms.shm import records as R
from oms.venues.binance.adapter import client_id as wire_cid
from oms.venues.binance.adapter import limit_header
from oms.venues.binance.adapter import parse_client_id as parse_cid
from oms.venues.binance.execution import order_params as _order_params


def order_params(t: Tracked, inst: Inst) -> dict:
    return _order_params(order_ref(t, inst))


BTC = Inst(1, "binance", "spot", "BTCUSDT", "BTC", "USDT", Decimal("0.01"), Decimal("0.00001"))
FBTC = Inst(3, "binance", "usdm", "BTCUSDT", "BTC", "USDT", Decimal("0.1"), Decimal("0.001"))


def test_wire_ids_round_trip_and_foreign_ids() -> None:
    for oid, gen in ((1, 0), (2**64 - 1, 0), (42, 7)):
        assert parse_cid(wire_cid(oid, gen)) == (oid, gen)
        assert len(wire_cid(oid, gen)) <= 36  # Binance's client id limit
    for foreign in ("", "web_123", "oms-", "oms-12x", "oms-1.a", "x-oms-1"):
        assert parse_cid(foreign) is None


def _t(**kw: object) -> Tracked:
    base = dict(
        oms_id=5,
        market="spot",
        symbol="BTCUSDT",
        instrument=1,
        side=R.SIDE_BUY,
        order_type=R.ORD_LIMIT,
        tif=R.TIF_GTC,
        price=6_000_000,
        qty=1000,
        cid="oms-5",
    )
    base.update(kw)
    return Tracked(**base)  # type: ignore[arg-type]


def test_order_params_spot_and_futures() -> None:
    p = order_params(_t(), BTC)
    assert p == {
        "symbol": "BTCUSDT",
        "side": "BUY",
        "type": "LIMIT",
        "quantity": "0.01",
        "price": "60000",
        "timeInForce": "GTC",
        "newClientOrderId": "oms-5",
        "newOrderRespType": "RESULT",
    }
    assert order_params(_t(flags=R.FLAG_POST_ONLY), BTC)["type"] == "LIMIT_MAKER"
    assert "timeInForce" not in order_params(_t(tif=R.TIF_GTX), BTC)  # GTX on spot = LIMIT_MAKER
    sl = order_params(_t(order_type=R.ORD_STOP_LIMIT, side=R.SIDE_SELL, trigger=5_900_000), BTC)
    assert (sl["type"], sl["stopPrice"], sl["side"]) == ("STOP_LOSS_LIMIT", "59000", "SELL")
    f = order_params(_t(market="usdm", instrument=3, qty=20, price=600_000, flags=R.FLAG_REDUCE_ONLY), FBTC)
    assert (f["quantity"], f["price"], f["reduceOnly"]) == ("0.02", "60000", "true")
    algo = order_params(_t(market="usdm", order_type=R.ORD_TAKE_PROFIT_MARKET, trigger=610_000, qty=2), FBTC)
    assert (algo["type"], algo["triggerPrice"], algo["clientAlgoId"], algo["algoType"]) == (
        "TAKE_PROFIT_MARKET",
        "61000",
        "oms-5",
        "CONDITIONAL",
    )
    gtx = order_params(_t(market="usdm", tif=R.TIF_GTX, qty=2, price=600_000), FBTC)
    assert gtx["timeInForce"] == "GTX"


@pytest.mark.parametrize(
    ("kw", "inst", "code"),
    [
        ({"order_type": R.ORD_TRAILING_STOP_MARKET}, BTC, "-1116"),
        ({"flags": R.FLAG_REDUCE_ONLY}, BTC, "-1106"),
        ({"tif": R.TIF_GTX, "order_type": R.ORD_STOP_LIMIT, "trigger": 1}, BTC, "-1115"),
    ],
)
def test_order_params_rejects_what_the_market_lacks(kw: dict, inst: Inst, code: str) -> None:
    with pytest.raises(Rejected) as e:
        order_params(_t(**kw), inst)
    assert e.value.code == code


def test_inst_conversion_is_exact() -> None:
    assert BTC.to_ticks("60000.01") == 6_000_001 and BTC.px(6_000_001) == "60000.01"
    assert BTC.to_lots("0.00123") == 123 and BTC.qty(123) == "0.00123"
    with pytest.raises(ValueError, match="not a multiple of tick"):
        BTC.to_ticks("60000.001")


def test_journal_survives_restart_and_torn_line(tmp_path: Path) -> None:
    p = tmp_path / "j.journal"
    j = Journal(p)
    t = _t()
    j.add(t)
    t.venue_oid = 77
    j.acked(t)
    t.trades.add(9)
    t.cum += 400
    j.filled(t, 9, 400)
    j.modified(t, "oms-5.1", 1, 6_000_100, 1000, 78)
    other = _t(oms_id=6, cid="oms-6")
    j.add(other)
    j.ended(other, R.ORDER_CANCELED)
    j.close()
    with open(p, "a") as f:
        f.write('{"op":"fill","id":5,"t":1')  # killed mid-write
    j2 = Journal(p)
    r = j2.orders[5]
    assert (r.accepted, r.trades, r.cum, r.cid, r.gen, r.venue_oid) == (True, {9}, 400, "oms-5.1", 1, 78)
    assert r.old_oids == {77}  # trades of the order before the replace still map to it
    assert (
        j2.find_cid("oms-5") is r and j2.find_cid("oms-5.1") is r
    )  # old id still maps (its CANCELED is ours)
    assert j2.orders[6].terminal == R.ORDER_CANCELED
    assert [o.oms_id for o in j2.open_orders()] == [5]
    j2.close()
    j3 = Journal(p, keep_s=0.0)  # compaction drops ended orders older than keep_s
    assert 6 not in j3.orders and j3.orders[5].cum == 400 and j3.orders[5].old_oids == {77}
    j3.close()


def test_settings_validate_names_bad_values() -> None:
    assert CS.validate(CS.Settings()) == []
    bad = CS.Settings(
        markets=["spot", "no such market"],
        on_unknown_order="ignore",
        depth_levels=7,
        ring_capacity=100,
        request_timeout_s=0,
        reconnect_base_s=5.0,
        reconnect_cap_s=1.0,
    )
    keys = {k for k, _, _ in CS.validate(bad)}
    assert keys >= {
        "markets",
        "on_unknown_order",
        "depth_levels",
        "ring_capacity",
        "request_timeout_s",
        "reconnect_cap_s",
    }
    with pytest.raises(msgspec.ValidationError):
        msgspec.convert({"nope": 1}, CS.Settings)


def test_instruments_file_errors_name_the_problem(tmp_path: Path) -> None:
    f = tmp_path / "i.toml"
    f.write_text('[[instrument]]\nid = 1\nvenue = "binance"\nmarket = "spot"\nsymbol = "BTCUSDT"\n')
    with pytest.raises(ConfigError, match=r"#1 lacks base, quote, tick_size, lot_size"):
        load(str(f), "binance")
    f.write_text(
        '[[instrument]]\nid = 1\nvenue = "binance"\nmarket = "moon"\nsymbol = "X"\nbase = "X"\n'
        'quote = "Y"\ntick_size = "0.1"\nlot_size = "1"\n'
    )
    with pytest.raises(ConfigError, match="market 'moon' is unknown"):
        load(str(f), "binance")
    with pytest.raises(ConfigError, match="cannot read it as TOML"):
        load(str(tmp_path / "missing.toml"), "binance")


def test_limits_from_exchange_file() -> None:
    lim = limits_from_config(
        [
            RateLimit(kind="request_weight", interval_s=60, limit=6000),
            RateLimit(kind="orders", interval_s=10, limit=100, scope="account"),
            RateLimit(kind="orders", interval_s=86400, limit=200000, scope="account"),
            RateLimit(kind="raw_requests", interval_s=300, limit=61000),
        ],
        limit_header,
    )
    assert [(x.kind, x.interval_ms, x.limit, x.header) for x in lim] == [
        ("weight", 60_000, 6000, "x-mbx-used-weight-1m"),
        ("orders", 10_000, 100, "x-mbx-order-count-10s"),
        ("orders", 86_400_000, 200000, "x-mbx-order-count-1d"),
    ]


def test_instruments_from_the_shared_registry(tmp_path: Path) -> None:
    from oms.venues.instruments import Instrument, InstrumentRegistry

    path = tmp_path / "instruments.json"
    with pytest.raises(ConfigError, match="no binance instruments in"):
        load(None, "binance", registry=path)
    reg = InstrumentRegistry.open(path)
    reg.load(
        [
            Instrument(
                id=0,
                venue="binance",
                market="spot",
                symbol="BTCUSDT",
                unified="BTC/USDT",
                base="BTC",
                quote="USDT",
                settle="",
                tick_size=Decimal("0.01"),
                lot_size=Decimal("0.00001"),
            ),
            Instrument(
                id=0,
                venue="binance",
                market="usdm",
                symbol="BTCUSDT",
                unified="BTC/USDT:USDT",
                base="BTC",
                quote="USDT",
                settle="USDT",
                tick_size=Decimal("0.1"),
                lot_size=Decimal("0.001"),
            ),
        ]
    )
    ins = load(None, "binance", registry=path)
    assert ins.find("usdm", "BTCUSDT").tick_size == Decimal("0.1")  # type: ignore[union-attr]
    assert ins.find("spot", "btcusdt").id != ins.find("usdm", "BTCUSDT").id  # type: ignore[union-attr]
