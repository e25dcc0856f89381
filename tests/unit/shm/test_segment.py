"""Segments: bad input (wrong dtype, capacity, collisions, foreign/stale/mismatched segments) is a clear
error naming what differs; `oms shm ls/gc` see and clean dead segments."""

from __future__ import annotations

import argparse
import json
import mmap
import os
import time

import numpy as np
import posix_ipc
import pytest

from oms.cli import shm as cli_shm
from oms.errors import Rejected
from oms.shm import records, segment
from oms.shm.ring import Ring
from oms.shm.segment import SegmentError, SegmentNotFound
from oms.shm.table import BboTable

DEAD_CREATOR = """
from oms.shm.ring import Ring
from oms.shm import records
r = Ring.create({name!r}, records.MARKET, 16, producer=True)
r.close()
"""


@pytest.mark.parametrize("cap", [0, 1, 3, 12, 1000, 2**31, -8])
def test_capacity_not_power_of_two(shm_prefix: str, cap: int) -> None:
    with pytest.raises(Rejected, match=rf"capacity {cap} is not a power of two"):
        Ring.create(shm_prefix + "r", records.MARKET, cap)
    assert segment.inspect(shm_prefix + "r") is None  # nothing left behind


@pytest.mark.parametrize("cap", ["8", 8.0, True, None])
def test_capacity_wrong_type(shm_prefix: str, cap: object) -> None:
    with pytest.raises(Rejected, match="capacity must be an int"):
        Ring.create(shm_prefix + "r", records.MARKET, cap)  # type: ignore[arg-type]


@pytest.mark.parametrize("dt", [np.int64, "f8", object, "not-a-dtype"])
def test_dtype_not_structured(shm_prefix: str, dt: object) -> None:
    with pytest.raises(Rejected, match="dtype"):
        Ring.create(shm_prefix + "r", dt, 8)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ["", "/abs", "has space", "x" * 201, ".hidden", None])
def test_bad_names(name: object) -> None:
    with pytest.raises(SegmentError, match=r"segment name .* is invalid"):
        Ring.create(name, records.MARKET, 8)  # type: ignore[arg-type]


def test_wrong_dtype_on_attach_names_both(shm_prefix: str) -> None:
    with Ring.create(shm_prefix + "r", records.MARKET, 8):
        with pytest.raises(SegmentError, match=r"holds records of dtype 'MARKET'.*asked for 'COMMAND'"):
            Ring.attach(shm_prefix + "r", records.COMMAND)
        # same size, different layout: caught by the hash, not only the itemsize
        other = np.dtype([("a", "<i8")] * 1 + [(f"f{i}", "<i8") for i in range(7)])
        with pytest.raises(SegmentError, match="hash"):
            Ring.attach(shm_prefix + "r", other)


def test_kind_mismatch(shm_prefix: str) -> None:
    with BboTable.create(shm_prefix + "t", 4), pytest.raises(SegmentError, match="is a table, not a ring"):
        Ring.attach(shm_prefix + "t", records.BBO)


def test_name_collision_with_live_creator(shm_prefix: str) -> None:
    with Ring.create(shm_prefix + "r", records.MARKET, 8):
        with pytest.raises(SegmentError, match=rf"already exists: created by live pid {os.getpid()}"):
            Ring.create(shm_prefix + "r", records.MARKET, 8)
        with pytest.raises(SegmentError, match="already exists"):
            BboTable.create(shm_prefix + "r", 8)


def test_missing_segment(shm_prefix: str) -> None:
    with pytest.raises(SegmentNotFound, match=r"does not exist.*start the process that creates it"):
        Ring.attach(shm_prefix + "nope", records.MARKET, timeout=0.05)


def oms_main(argv: list[str]) -> int:
    """`oms <argv>` through the shm group's own parser (independent of other rooms' CLI modules)."""
    parser = argparse.ArgumentParser(prog="oms")
    cli_shm.register(parser.add_subparsers())
    args = parser.parse_args(argv)
    return int(args.func(args))


def _foreign(name: str, payload: bytes) -> None:
    shm = posix_ipc.SharedMemory("/" + name, posix_ipc.O_CREX, size=max(len(payload), 1))
    with mmap.mmap(shm.fd, shm.size) as m:
        m[: len(payload)] = payload
    shm.close_fd()


def test_foreign_segment(shm_prefix: str) -> None:
    _foreign(shm_prefix + "f", b"\xab" * 4096)
    with pytest.raises(SegmentError, match=r"is not an oms segment \(magic 0xabab"):
        Ring.attach(shm_prefix + "f", records.MARKET, timeout=0.05)
    with pytest.raises(SegmentError, match="already exists and is not an oms segment"):
        Ring.create(shm_prefix + "f", records.MARKET, 8, replace_stale=True)
    _foreign(shm_prefix + "small", b"hi")
    with pytest.raises(SegmentError, match="smaller than an oms segment header"):
        Ring.attach(shm_prefix + "small", records.MARKET, timeout=0.05)


def test_version_mismatch(shm_prefix: str) -> None:
    with Ring.create(shm_prefix + "r", records.MARKET, 8) as r:
        r.segment.hdr[segment.H_VERSION] = 99
        with pytest.raises(SegmentError, match="layout version 99, this code speaks 1"):
            Ring.attach(shm_prefix + "r", records.MARKET)


def test_stale_segment_attach_replace_and_gc(shm_prefix: str, run_py, capsys) -> None:  # type: ignore[no-untyped-def]
    name = shm_prefix + "stale"
    res = run_py(DEAD_CREATOR.format(name=name))
    assert res.returncode == 0, res.stderr
    with pytest.raises(SegmentError, match=r"is stale: its creator pid \d+ .* is gone; run `oms shm gc`"):
        Ring.attach(name, records.MARKET)
    with Ring.attach(name, records.MARKET, allow_stale=True) as r:
        assert not r.producer_alive()  # registered producer exited
    with pytest.raises(SegmentError, match=r"stale .* replace_stale=True"):
        Ring.create(name, records.MARKET, 16)

    live = Ring.create(shm_prefix + "live", records.MARKET, 8)
    try:
        assert oms_main(["shm", "ls", "--prefix", shm_prefix, "--json"]) == 0
        listed = {s["name"]: s for s in json.loads(capsys.readouterr().out)["segments"]}
        assert listed[name]["alive"] is False and listed[name]["kind"] == "ring"
        assert listed[shm_prefix + "live"]["alive"] is True and listed[shm_prefix + "live"]["depth"] == 0
        assert oms_main(["shm", "gc", "--prefix", shm_prefix, "--dry-run"]) == 0
        assert segment.inspect(name) is not None
        assert oms_main(["shm", "gc", "--prefix", shm_prefix]) == 0
        out = capsys.readouterr().out
        assert f"removed {name}" in out and "kept 1 in use" in out
        assert segment.inspect(name) is None and segment.inspect(shm_prefix + "live") is not None
    finally:
        live.close()

    run_py(DEAD_CREATOR.format(name=name))
    with Ring.create(name, records.MARKET, 32, replace_stale=True) as r:
        assert r.capacity == 32 and r.segment.creator_pid == os.getpid()


def test_half_created_segment(shm_prefix: str) -> None:
    _foreign(shm_prefix + "half", bytes(4096))  # what a creator leaves if it dies before the magic
    with pytest.raises(SegmentNotFound, match="has not finished initialising"):
        Ring.attach(shm_prefix + "half", records.MARKET, timeout=0.05)
    info = segment.inspect(shm_prefix + "half")
    assert info is not None and info.kind == "incomplete" and info.alive  # young: left alone by gc
    old = time.time() - segment.INCOMPLETE_GRACE_S - 5
    os.utime(os.path.join(segment.SHM_DIR, shm_prefix + "half"), (old, old))
    assert oms_main(["shm", "gc", "--prefix", shm_prefix]) == 0
    assert segment.inspect(shm_prefix + "half") is None
