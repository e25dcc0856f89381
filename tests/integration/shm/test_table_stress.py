"""Seqlock BBO table between two real processes: a reader never returns a torn row.

The writer (`python -m oms.shm.selftest table-writer`) rewrites every row round-robin, all fields of an
update derived from one counter; the reader (this process) checks every copy `bbo_read` accepts.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

import numpy as np

from oms.shm import records, selftest
from oms.shm.table import BboTable

CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
SECONDS = float(os.environ.get("OMS_SHM_TABLE_SECONDS", 2.0 if CI else 4.0))


def test_concurrent_reader_never_sees_a_torn_row(shm_prefix: str) -> None:
    name = shm_prefix + "bbo"
    with BboTable.create(name, 4) as table:  # few rows: the reader hits rows being written
        proc = subprocess.Popen(
            [sys.executable, "-m", "oms.shm.selftest", "table-writer", name, str(SECONDS)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            st = np.zeros(5, np.int64)  # ok, retried, busy, torn, max_seq
            out = np.zeros(1, records.BBO)
            deadline = time.monotonic() + 60
            while not table.writer_alive() or table.read(0)["seq"] == 0:  # eventually: writer started
                assert proc.poll() is None, proc.stderr.read()
                assert time.monotonic() < deadline, "table writer never started"
                time.sleep(0.01)
            first_seq = int(table.read(0)["seq"])
            while proc.poll() is None:
                selftest.table_read_check(table.ctrl, table.rows, 200_000, out, st)
                assert st[3] == 0, f"torn row returned after {st[0]} good reads"
            outp, err = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        assert proc.returncode == 0, err
        updates = int(outp.split()[1])
        ok, retried, busy, torn, max_seq = (int(x) for x in st)
        print(
            f"\n{ok} consistent reads, {retried} retried, {busy} busy, {torn} torn; writer {updates} updates"
        )
        assert torn == 0
        assert ok > 100_000
        assert max_seq - first_seq > 1000  # the reader really read while the writer was writing
