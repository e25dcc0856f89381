"""Parallel PostgreSQL writers: a batch written in parts at once is stored exactly once, the orders
table ends as with one writer, and a batch retried after one part failed duplicates nothing."""

from __future__ import annotations

import numpy as np
import psycopg
import pytest

from oms.store.writer import EventWriter, ParallelEventWriter
from tests.integration.bus.conftest import make_events, pg_count


@pytest.fixture
def small_parts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ParallelEventWriter, "MIN_PART", 256)


def _orders(dsn: str) -> list[tuple]:
    with psycopg.connect(dsn) as c:
        q = "SELECT client_order_id, last_seq, status, cum_qty FROM orders ORDER BY 1"
        return c.execute(q).fetchall()


def test_parts_keep_each_order_whole(small_parts: None) -> None:
    w = ParallelEventWriter("host=127.0.0.1 dbname=unused", parts=4)
    ev = make_events(0, 4000)
    parts = w.split(ev)
    assert len(parts) == 4 and sum(len(p) for p in parts) == 4000
    owners = [set(p["client_order_id"].tolist()) for p in parts]
    assert all(not (a & b) for i, a in enumerate(owners) for b in owners[i + 1 :])  # no order in two parts
    assert all((np.diff(p["seq"].astype(np.int64)) > 0).all() for p in parts)  # order kept inside a part
    assert len(w.split(ev[:100])) == 1  # small batches: one writer


def test_parallel_write_is_exactly_once_and_matches_one_writer(pg_dsn: str, small_parts: None) -> None:
    ev = make_events(0, 6000)
    one = EventWriter(pg_dsn)
    one.write(ev)
    want = _orders(pg_dsn)
    one.close()
    with psycopg.connect(pg_dsn, autocommit=True) as c:
        c.execute("TRUNCATE events, fills, orders")
    w = ParallelEventWriter(pg_dsn, parts=4)
    try:
        assert w.write(ev).inserted == 6000
        assert pg_count(pg_dsn) == (6000, 6000)
        assert _orders(pg_dsn) == want
        r = w.write(ev)  # redelivered batch: every part takes the exact path
        assert (r.inserted, r.exact) == (0, True) and pg_count(pg_dsn) == (6000, 6000)
    finally:
        w.close()


def test_retry_after_one_part_failed_duplicates_nothing(pg_dsn: str, small_parts: None) -> None:
    w = ParallelEventWriter(pg_dsn, parts=4)
    try:
        w.write(make_events(0, 4000))
        victim = w.writers[2].conn
        assert victim is not None
        pid = victim.info.backend_pid
        with psycopg.connect(pg_dsn, autocommit=True) as c:  # PostgreSQL drops one writer's connection
            c.execute("SELECT pg_terminate_backend(%s)", (pid,))
        batch = make_events(4000, 4000)
        with pytest.raises(psycopg.OperationalError):
            w.write(batch)
        rows, distinct = pg_count(pg_dsn)
        assert 4000 < rows < 8000 and rows == distinct  # the other parts committed
        r = w.write(batch)  # the recorder's retry (the messages were not acked)
        assert r.inserted == 8000 - rows
        assert pg_count(pg_dsn) == (8000, 8000)
    finally:
        w.close()
