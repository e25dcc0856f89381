"""Store writer kernels: the njit binary-COPY encoder matches the former numpy encoder bit for bit, and
latest-per-order picks the highest seq per order, ids ascending."""

from __future__ import annotations

import numpy as np

from oms.shm import records as R
from oms.store.writer import EVENT_COLS, FILL_COLS, ORDER_COLS, Col, copy_payload, latest_per_order


def _numpy_copy_payload(recs: np.ndarray, cols: list[Col]) -> bytes:
    """The former vectorised-numpy encoder, kept as the reference the njit encoder must match."""
    ints = {2: ">i2", 4: ">i4", 8: ">i8"}
    fields = [("nfields", ">i2")]
    for c, _, size in cols:
        fields += [(f"l_{c}", ">i4"), (f"v_{c}", ints[size])]
    rows = np.empty(len(recs), np.dtype(fields))
    rows["nfields"] = len(cols)
    for col, field, size in cols:
        rows[f"l_{col}"] = size
        src = recs[field]
        if src.dtype.kind == "u" and src.dtype.itemsize == size:
            src = src.view(src.dtype.str.replace("u", "i"))
        rows[f"v_{col}"] = src
    return b"PGCOPY\n\xff\r\n\x00" + bytes(8) + rows.tobytes() + b"\xff\xff"


def test_njit_copy_encoder_matches_numpy_reference() -> None:
    rng = np.random.default_rng(7)
    ev = R.new(R.EVENT, 1000)
    raw = ev.view(np.uint8)
    raw[:] = rng.integers(0, 256, raw.shape, dtype=np.uint8)  # every bit pattern: negative, 2^64-1...
    for cols in (EVENT_COLS, FILL_COLS, ORDER_COLS):
        assert copy_payload(ev, cols) == _numpy_copy_payload(ev, cols)
    assert copy_payload(ev[:0]) == _numpy_copy_payload(ev[:0], EVENT_COLS)
    odd = ev[::3]  # a strided selection (what a filter by kind hands the writer)
    assert copy_payload(odd, FILL_COLS) == _numpy_copy_payload(odd, FILL_COLS)


def test_latest_per_order_highest_seq_ids_ascending() -> None:
    rng = np.random.default_rng(3)
    n = 5000
    ev = R.new(R.EVENT, n)
    ev["client_order_id"] = rng.integers(0, 300, n)  # 0 = not an order event
    ev["seq"] = rng.permutation(n)
    ev["kind"] = rng.choice([R.ORDER_ACCEPTED, R.ORDER_FILLED, R.RISK_LIMIT_CHANGED], n)
    got = latest_per_order(ev)
    want: dict[int, int] = {}
    for r in ev:
        if r["client_order_id"] and R.ORDER_SUBMITTED <= r["kind"] <= R.MODIFY_REJECTED:
            want[int(r["client_order_id"])] = max(want.get(int(r["client_order_id"]), -1), int(r["seq"]))
    assert got["client_order_id"].tolist() == sorted(want)
    assert got["seq"].tolist() == [want[k] for k in sorted(want)]
    assert len(latest_per_order(ev[:0])) == 0
