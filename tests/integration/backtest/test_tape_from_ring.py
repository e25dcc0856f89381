"""A tape recorded from a real shared-memory MARKET ring round-trips, and the `oms tape` / `oms backtest`
commands work end to end as subprocesses (real ring, real files, no fakes)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import numpy as np
import pytest

from oms.backtest import tape as T
from oms.cli import main
from oms.shm import names
from oms.shm import records as R
from oms.shm.ring import Ring

OMS = [str(Path(sys.executable).with_name("oms"))]  # the console script of this venv
N = 20_000


@pytest.fixture
def md_ring():
    name = names.venue_market_data("binance", f"t{uuid.uuid4().hex[:8]}")
    ring = Ring.create(name, R.MARKET, 1 << 15, producer=True)
    try:
        yield ring
    finally:
        ring.close()
        ring.unlink()


def test_recording_a_live_ring_round_trips(md_ring, tmp_path):
    recs = T.synth(N, seed=4)
    stop = threading.Event()

    def produce() -> None:  # the connector's side: publish in bursts while the recorder consumes
        sent = 0
        while sent < N and not stop.is_set():
            k = md_ring.publish_batch(recs[sent : sent + 1000])
            sent += k
            if k == 0:
                stop.wait(0.001)

    t = threading.Thread(target=produce)
    t.start()
    try:
        got = T.record(md_ring.name, seconds=60, max_records=N)
    finally:
        stop.set()
        t.join(10)
    assert np.array_equal(got, recs)  # every record, in order, byte for byte
    p = tmp_path / "rec.tape"
    T.write(p, got, [T.TapeInstrument(id=1)], source=f"ring:{md_ring.name}")
    back = T.read(p)
    assert np.array_equal(back.records, recs) and back.meta["source"] == f"ring:{md_ring.name}"


def _oms(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*OMS, *args], capture_output=True, text=True, timeout=timeout, env=os.environ.copy()
    )


def test_cli_record_then_backtest(md_ring, tmp_path):
    recs = T.synth(5000, seed=9)
    assert md_ring.publish_batch(recs) == 5000  # the ring holds them all until the recorder reads
    out = tmp_path / "cli.tape"
    r = _oms("tape", "record", "--ring", md_ring.name, "--out", str(out), "--seconds", "30",
             "--max-records", "5000")  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert np.array_equal(T.read(out).records, recs)
    args = ["backtest", "run", "--tape", str(out), "--strategy", "oms.backtest.strategies:QuotingMarketMaker",
            "--latency", "all=lognormal:400us,0.5", "--seed", "1", "--json"]  # fmt: skip
    a, b = _oms(*args), _oms(*args)
    assert a.returncode == 0, a.stderr
    rep = json.loads(a.stdout)
    assert rep["records"] == 5000 and rep["fills"] > 0 and a.stdout == b.stdout


def _main(capsys, *args: str) -> tuple[int, str, str]:
    rc = main(list(args))
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_cli_table_synth_info_and_errors(tmp_path, capsys):
    ok = str(tmp_path / "ok.tape")
    rc, out, _ = _main(capsys, "tape", "synth", "--out", ok, "--records", "3000", "--seed", "2")
    assert rc == 0 and "wrote 3000 records" in out
    rc, out, _ = _main(capsys, "tape", "info", ok, "--json")
    assert rc == 0 and json.loads(out)["kinds"] == {"MarketDataBBO": 2250, "MarketDataTrade": 750}
    ma = "oms.backtest.strategies:MovingAverageCross"
    rc, out, _ = _main(capsys, "backtest", "run", "--tape", ok, "--strategy", ma, "--param", "fast=5",
                       "--param", "slow=20", "--latency", "all=const:250us")  # fmt: skip
    assert rc == 0 and "net PnL" in out and "latency to_venue (const:250us)" in out
    bad = tmp_path / "bad.tape"
    bad.write_bytes(b"garbage" * 10)
    rc, _, err = _main(
        capsys, "backtest", "run", "--tape", str(bad), "--strategy", "oms.backtest.strategies:X"
    )
    assert rc == 2 and "magic" in err
    rc, _, err = _main(capsys, "backtest", "run", "--tape", ok, "--strategy", "nosuchmodule:X")
    assert rc == 2 and "cannot import module 'nosuchmodule'" in err
    rc, _, err = _main(capsys, "backtest", "run", "--tape", ok, "--strategy", ma, "--param", "fast=50",
                       "--param", "slow=10")  # fmt: skip
    assert rc == 2 and "fast < slow" in err
    risk = tmp_path / "risk.toml"
    risk.write_text("[risk]\nprice_deviation_bps = 20000\n")
    rc, _, err = _main(capsys, "backtest", "run", "--tape", ok, "--strategy",
                       "oms.backtest.strategies:MovingAverageCross", "--risk", str(risk))  # fmt: skip
    assert rc == 2 and "price_deviation_bps" in err
    rc, _, err = _main(capsys, "tape", "record", "--ring", "nosuch.ring.md", "--out", ok, "--seconds", "1")
    assert rc == 2 and "nosuch.ring.md" in err
