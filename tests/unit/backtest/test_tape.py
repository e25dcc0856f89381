"""Tape file: round trip, header checks that name the problem, seeded synthetic tapes."""

from __future__ import annotations

import numpy as np
import pytest

from oms.backtest import tape as T
from oms.errors import ConfigError
from oms.shm import records as R


def test_round_trip_keeps_records_and_instruments(tmp_path):
    recs = T.synth(1000, seed=3)
    inst = T.TapeInstrument(id=1, symbol="ETHUSDT", base="ETH", taker_fee="0.0005")
    p = tmp_path / "a.tape"
    assert T.write(p, recs, [inst], source="test") == 1000
    t = T.read(p)
    assert t.records.dtype == R.MARKET and np.array_equal(t.records, recs)
    assert t.instruments == [inst] and t.meta == {"source": "test"}
    assert (p.stat().st_size - 1000 * 64) % 64 == 0  # records start on a 64-byte boundary


def test_synth_is_seeded_and_consistent():
    a, b, c = T.synth(500, seed=1), T.synth(500, seed=1), T.synth(500, seed=2)
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    q = a[a["kind"] == R.MD_BBO]
    assert (q["ask_price"] - q["price"] == 2).all()
    assert (np.diff(a["ts_ns"]) > 0).all()
    assert (a["kind"] == R.MD_TRADE).sum() == 125


def test_bad_files_name_what_is_wrong(tmp_path):
    p = tmp_path / "x.tape"
    T.write(p, T.synth(10), [T.TapeInstrument(id=1)])
    raw = p.read_bytes()
    (tmp_path / "magic.tape").write_bytes(b"NOTATAPE" + raw[8:])
    with pytest.raises(ConfigError, match="magic"):
        T.read(tmp_path / "magic.tape")
    (tmp_path / "short.tape").write_bytes(raw[:-10])
    with pytest.raises(ConfigError, match="truncated"):
        T.read(tmp_path / "short.tape")
    (tmp_path / "hash.tape").write_bytes(raw[:16] + b"\x00" * 8 + raw[24:])
    with pytest.raises(ConfigError, match="dtype hash"):
        T.read(tmp_path / "hash.tape")
    with pytest.raises(ConfigError, match="cannot read"):
        T.read(tmp_path / "missing.tape")
    with pytest.raises(ConfigError, match="MARKET"):
        T.write(p, np.zeros(3, R.EVENT), [])


def test_instrument_meta_is_validated():
    with pytest.raises(ConfigError, match="venue 'nowhere'"):
        T.TapeInstrument.from_dict({"id": 1, "venue": "nowhere"}, "meta")
    with pytest.raises(ConfigError, match="taker_fee"):
        T.TapeInstrument.from_dict({"id": 1, "taker_fee": "cheap"}, "meta")
    with pytest.raises(ConfigError, match="unknown instrument keys"):
        T.TapeInstrument.from_dict({"id": 1, "colour": "red"}, "meta")
