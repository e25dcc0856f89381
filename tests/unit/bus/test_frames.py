"""OMSF frames: header fields, round trips, every corruption refused with the field named."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from oms.bus import frames as F
from oms.errors import Rejected
from oms.shm import records as R


def _events(n: int, start: int = 100) -> np.ndarray:
    r = R.new(R.EVENT, n)
    r["seq"] = np.arange(start, start + n)
    r["source"], r["venue"], r["market"], r["instrument"] = 1, 1, 1, 7
    r["kind"] = R.ORDER_ACCEPTED
    r["price"] = np.arange(n) * 3
    return r


def test_round_trip_and_header() -> None:
    ev = _events(1000)
    data = F.encode(ev)
    assert len(data) == F.HEADER_SIZE + 1000 * 128
    h, back = F.decode(data)
    assert (h.family, h.count, h.first_seq, h.last_seq, h.source, h.layout) == (
        "EVENT",
        1000,
        100,
        1099,
        1,
        1,
    )
    assert h.dtype_hash == R.dtype_hash(R.EVENT)
    assert np.array_equal(back, ev)


def test_market_and_command_families() -> None:
    m = R.new(R.MARKET, 3)
    m["seq"] = [5, 6, 7]
    assert F.decode(F.encode(m))[0].family == "MARKET"
    c = R.new(R.COMMAND, 2)
    assert F.decode(F.encode(c))[0].family == "COMMAND"


def test_msg_id_is_stable_for_the_same_records() -> None:
    a, b = F.encode(_events(10)), F.encode(_events(10))
    assert F.msg_id("orders.binance.spot.I7", data=a) == F.msg_id("orders.binance.spot.I7", data=b)
    assert F.msg_id("x", data=a) != F.msg_id("x", data=F.encode(_events(10, start=200)))


@pytest.mark.parametrize(
    ("offset", "value", "needle"),
    [
        (0, b"XXXX", "magic"),
        (4, (9).to_bytes(2, "little"), "frame_version 9"),
        (6, (7).to_bytes(2, "little"), "record layout 7"),
        (8, (12345).to_bytes(8, "little"), "dtype_hash"),
        (16, (999).to_bytes(4, "little"), "header says 999 EVENT records"),
        (20, (64).to_bytes(4, "little"), "record_size 64 but EVENT is 128"),
    ],
)
def test_corrupt_headers_are_refused(offset: int, value: bytes, needle: str) -> None:
    data = bytearray(F.encode(_events(4)))
    data[offset : offset + len(value)] = value
    with pytest.raises(Rejected, match=needle):
        F.decode(bytes(data))


def test_truncated_frames_are_refused() -> None:
    data = F.encode(_events(4))
    with pytest.raises(Rejected, match="shorter than the 48-byte header"):
        F.decode(data[:10])
    with pytest.raises(Rejected, match="bytes but header says 4"):
        F.decode(data[:-1])


def test_encode_rejects_unknown_dtypes_and_empty() -> None:
    with pytest.raises(Rejected, match="not a known record family"):
        F.encode(np.zeros(3, [("seq", "<u8")]))
    with pytest.raises(Rejected, match="record count 0"):
        F.encode(R.new(R.EVENT, 0))


def test_split_events_by_subject_keeps_order() -> None:
    ev = _events(12)
    ev["kind"][[2, 5, 9]] = R.ORDER_FILLED
    ev["instrument"][[3, 4]] = 8
    ev["kind"][11] = R.RISK_LIMIT_CHANGED
    ev["venue"][11] = 0
    groups = dict(F.split_events(ev))
    assert set(groups) == {
        "orders.binance.spot.I7",
        "orders.binance.spot.I8",
        "fills.binance.spot.I7",
        "risk.all.all.ALL",
    }
    assert list(groups["orders.binance.spot.I7"]["seq"]) == [100, 101, 106, 107, 108, 110]
    assert list(groups["fills.binance.spot.I7"]["seq"]) == [102, 105, 109]
    assert sum(len(g) for g in groups.values()) == 12


def test_split_uses_the_symbol_map() -> None:
    ev = _events(2)
    got = F.split_events(ev, lambda v, m, i: "BTCUSDT")
    assert got[0][0] == "orders.binance.spot.BTCUSDT"


def test_registry_symbols_use_the_instrument_registry() -> None:
    from decimal import Decimal

    from oms.venues.instruments import Instrument, InstrumentRegistry

    reg = InstrumentRegistry(path=None)
    spec = Instrument(
        0, "binance", "spot", "BTCUSDT", "BTC/USDT", "BTC", "USDT", "", Decimal("0.01"), Decimal("0.00001")
    )
    (btc,) = reg.load([spec])
    sym = F.registry_symbols(reg)
    assert sym(1, 1, btc.id) == "BTCUSDT"
    assert sym(1, 1, btc.id + 100) == f"I{btc.id + 100}"  # unknown id: falls back, never fails


@given(st.binary(min_size=0, max_size=400))
def test_decode_garbage_is_rejected_never_crashes(data: bytes) -> None:
    try:
        h, recs = F.decode(data)
    except Rejected:
        return
    assert len(recs) == h.count


@given(st.lists(st.integers(0, 2**64 - 1), min_size=1, max_size=50), st.integers(0, 2**32 - 1))
def test_round_trip_property(seqs: list[int], source: int) -> None:
    ev = R.new(R.EVENT, len(seqs))
    ev["seq"] = seqs
    ev["source"] = source
    h, back = F.decode(F.encode(ev))
    assert (h.first_seq, h.last_seq, h.count, h.source) == (seqs[0], seqs[-1], len(seqs), source)
    assert back.tobytes() == ev.tobytes()
