"""BBO table: write/read, unwritten rows, bad instrument ids, njit access, attach from another view."""

from __future__ import annotations

import numpy as np
import pytest

from oms.errors import Rejected
from oms.shm import records
from oms.shm.table import BboTable, bbo_read, bbo_read_tries, bbo_write


def test_write_read_and_attach(shm_prefix: str) -> None:
    with BboTable.create(shm_prefix + "bbo", 8) as t:
        assert t.read(3)["seq"] == 0  # never written
        t.write(3, 100, 2, 101, 3, 0, 55)
        t.write(3, 99, 4, 100, 1, 7, 56)
        row = t.read(3)
        assert (row["seq"], row["bid_px"], row["ask_qty"], row["mark_px"], row["ts_ns"]) == (4, 99, 1, 7, 56)
        assert t.writer_alive()
        with BboTable.attach(shm_prefix + "bbo") as t2:
            assert t2.read(3)["bid_qty"] == 4 and t2.n_instruments == 8


def test_bad_sizes_and_ids(shm_prefix: str) -> None:
    for n in (0, -1, 2**30, "8"):
        with pytest.raises(Rejected, match="BBO table size"):
            BboTable.create(shm_prefix + "bbo", n)  # type: ignore[arg-type]
    with BboTable.create(shm_prefix + "bbo", 4) as t:
        for bad in (4, -1, 1.5):
            with pytest.raises(Rejected, match=r"outside BBO table .* \(rows 0..3\)"):
                t.read(bad)  # type: ignore[arg-type]
        out = np.zeros(1, records.BBO)
        assert not bbo_write(t.ctrl, t.rows, 4, 1, 1, 1, 1, 1, 1)
        assert not bbo_read(t.ctrl, t.rows, 9, out)


def test_busy_row_is_reported_not_torn(shm_prefix: str) -> None:
    """A row whose seq is odd (writer mid-update, e.g. it died there) never yields a copy."""
    with BboTable.create(shm_prefix + "bbo", 2) as t:
        t.write(1, 5, 5, 6, 6, 0, 1)
        w = t.segment.data_offset // 8 + 8 * 1
        t.ctrl[w] += 1  # simulate a writer stopped between steps 2 and 5
        out = np.zeros(1, records.BBO)
        assert bbo_read_tries(t.ctrl, t.rows, 1, out, 50) == 0
        t.ctrl[w] += 1
        assert bbo_read_tries(t.ctrl, t.rows, 1, out, 50) == 1 and out[0]["bid_px"] == 5
