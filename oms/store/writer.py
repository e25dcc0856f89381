"""Store room: PostgreSQL writers for EVENT records: binary COPY, idempotent by (source, seq).

Touches the `events`, `fills` and `orders` tables (schema: oms/store/migrations). COPY payloads are
built from the numpy records in one vectorised pass (PostgreSQL binary COPY: per row a 16-bit field
count, then per field a 32-bit length and the big-endian value), so no Python object per row exists.

Two paths, one transaction each:
- fast (the normal case): COPY straight into `events` and `fills`; the orders' latest states (one row
  per order, picked in numpy) are COPYed into a small temp table and upserted.
- exact (after a unique violation, i.e. some records were stored before: JetStream redelivery, a bridge
  that re-read its ring, a drained spool): COPY into a temp staging table, then INSERT ... ON CONFLICT DO
  NOTHING into events and fills, and the same upsert of orders from the rows that were new.
Either way the tables never hold a duplicate, and an order's row only moves forward in seq.

`ParallelEventWriter` splits a batch by client_order_id over N such writers (N connections), each part
its own transaction, written at once from a thread pool (COPY encoding and PostgreSQL both run without
the GIL); `write` returns once every part committed. An order's events all land in one part, so two
parts never update the same `orders` row (no lock waits, no deadlocks between them). A part that failed
leaves the others committed: the caller retries the whole batch, and the committed parts take the exact
path (nothing duplicated).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import psycopg

from oms.shm import records as R
from oms.store import copybin

Col = tuple[str, str, int]  # (column, EVENT field, PostgreSQL integer size in bytes)

EVENT_COLS: list[Col] = [
    ("source", "source", 4),
    ("seq", "seq", 8),
    ("kind", "kind", 2),
    ("flags", "flags", 4),
    ("venue", "venue", 2),
    ("market", "market", 2),
    ("account", "account", 8),
    ("instrument", "instrument", 8),
    ("client_order_id", "client_order_id", 8),
    ("venue_order_id", "venue_order_id", 8),
    ("price", "price", 8),
    ("qty", "qty", 8),
    ("cum_qty", "cum_qty", 8),
    ("leaves_qty", "leaves_qty", 8),
    ("fee", "fee", 8),
    ("trade_id", "trade_id", 8),
    ("ts_venue_ns", "ts_venue_ns", 8),
    ("ts_ns", "ts_ns", 8),
    ("reason", "reason", 4),
    ("side", "side", 2),
    ("liquidity", "liquidity", 2),
    ("order_type", "order_type", 2),
    ("status", "status", 2),
    ("fee_asset", "fee_asset", 8),
    ("ref_seq", "ref_seq", 8),
]
COLUMNS = EVENT_COLS  # the events table, column for column
_BY_NAME = {c: (c, f, s) for c, f, s in EVENT_COLS}
FILL_COLS: list[Col] = [
    _BY_NAME[c]
    for c in (
        "source", "seq", "account", "venue", "market", "instrument", "client_order_id", "venue_order_id",
        "trade_id", "side", "price", "qty", "fee", "fee_asset", "liquidity", "ts_venue_ns", "ts_ns",
    )
]  # fmt: skip
ORDER_COLS: list[Col] = [
    _BY_NAME["client_order_id"],
    _BY_NAME["source"],
    ("last_seq", "seq", 8),
    ("last_kind", "kind", 2),
    *(
        _BY_NAME[c]
        for c in (
            "status", "account", "venue", "market", "instrument", "venue_order_id", "side", "order_type",
            "price", "cum_qty", "leaves_qty", "ts_ns",
        )
    ),
]  # fmt: skip


def _names(cols: list[Col]) -> str:
    return ", ".join(c for c, _, _ in cols)


_COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + (0).to_bytes(4, "big") + (0).to_bytes(4, "big")
_COPY_TRAILER = (-1).to_bytes(2, "big", signed=True)
_ORDER_KINDS = np.arange(R.ORDER_SUBMITTED, R.MODIFY_REJECTED + 1)


def copy_buffer(recs: np.ndarray, cols: list[Col] = EVENT_COLS) -> np.ndarray:
    """PostgreSQL binary COPY bytes (header, rows, trailer) for `cols` of EVENT records, as a uint8 array
    (hand it to `Copy.write` without a copy). u64 fields keep their 64-bit pattern in a bigint."""
    recs = np.ascontiguousarray(recs)
    n, rs = len(recs), recs.dtype.itemsize
    ss, si, sg, ds = _spec(cols, recs.dtype)
    row = 2 + int((4 + ds).sum())
    h = len(_COPY_HEADER)
    out = np.empty(h + n * row + 2, np.uint8)
    out[:h] = np.frombuffer(_COPY_HEADER, np.uint8)
    views = [
        recs.view(t).reshape(n, rs // np.dtype(t).itemsize) for t in (np.int8, np.int16, np.int32, np.int64)
    ]
    used = copybin.encode_rows(*views, ss, si, sg, ds, out[h:])
    out[h + used :] = np.frombuffer(_COPY_TRAILER, np.uint8)
    return out


_WIDTHS = (np.int8, np.int16, np.int32, np.int64)
_specs: dict[tuple[int, np.dtype], tuple[np.ndarray, ...]] = {}


def _spec(cols: list[Col], dt: np.dtype) -> tuple[np.ndarray, ...]:
    """(src_size, src_idx, signed, dst_size) per column for copybin.encode_rows."""
    key = (id(cols), dt)
    if key not in _specs:
        f = [dt.fields[field] for _, field, _ in cols]
        for (col, _, _), (fdt, off, *_) in zip(cols, f, strict=True):
            if off % fdt.itemsize or fdt.itemsize not in (1, 2, 4, 8):
                raise ValueError(f"COPY column {col}: field at offset {off} is not naturally aligned")
        _specs[key] = (
            np.array([fdt.itemsize for fdt, *_ in f], np.int64),
            np.array([off // fdt.itemsize for fdt, off, *_ in f], np.int64),
            np.array([fdt.kind == "i" for fdt, *_ in f], np.bool_),
            np.array([size for _, _, size in cols], np.int64),
        )
    return _specs[key]


def copy_payload(recs: np.ndarray, cols: list[Col] = EVENT_COLS) -> bytes:
    """copy_buffer as bytes."""
    return copy_buffer(recs, cols).tobytes()


def latest_per_order(recs: np.ndarray) -> np.ndarray:
    """The highest-seq order event of each client_order_id (order kinds only, id != 0), by id."""
    take = np.isin(recs["kind"], _ORDER_KINDS) & (recs["client_order_id"] != 0)
    size = 1 << max(4, (2 * len(recs)).bit_length())
    keys = np.zeros(size, np.uint64)
    idx = np.empty(len(recs), np.int64)
    m = copybin.latest_index(
        np.ascontiguousarray(recs["client_order_id"]), np.ascontiguousarray(recs["seq"]), take, keys,
        np.empty(size, np.int64), idx,
    )  # fmt: skip
    o = recs[idx[:m]]
    # ascending ids: concurrent upserts (two streams) lock the orders rows in one order, no deadlock
    return o[np.argsort(o["client_order_id"], kind="stable")]


_EV, _FI, _OR = _names(EVENT_COLS), _names(FILL_COLS), _names(ORDER_COLS)
_STAGE_DDL = (
    "CREATE TEMP TABLE IF NOT EXISTS stage_events (LIKE events INCLUDING DEFAULTS) ON COMMIT DELETE ROWS;"
    "CREATE TEMP TABLE IF NOT EXISTS stage_orders (LIKE orders) ON COMMIT DELETE ROWS"
)
_UPSERT_ORDERS = f"""
INSERT INTO orders ({_OR}) SELECT {_OR} FROM stage_orders
ON CONFLICT (client_order_id) DO UPDATE SET
    source = excluded.source, last_seq = excluded.last_seq, last_kind = excluded.last_kind,
    status = excluded.status,
    venue_order_id = CASE WHEN excluded.venue_order_id <> 0 THEN excluded.venue_order_id
                          ELSE orders.venue_order_id END,
    price = CASE WHEN excluded.last_kind = {R.ORDER_FILLED} THEN orders.price ELSE excluded.price END,
    cum_qty = excluded.cum_qty, leaves_qty = excluded.leaves_qty, ts_ns = excluded.ts_ns
 WHERE orders.last_seq < excluded.last_seq
"""
_EXACT = f"""
WITH ins AS (
    INSERT INTO events ({_EV}) SELECT {_EV} FROM stage_events
    ON CONFLICT (source, seq) DO NOTHING
    RETURNING {_EV}
), f AS (
    INSERT INTO fills ({_FI}) SELECT {_FI} FROM ins WHERE kind = {R.ORDER_FILLED}
    ON CONFLICT (source, seq) DO NOTHING
)
SELECT count(*) FROM ins
"""


@dataclass(slots=True)
class WriteResult:
    received: int
    inserted: int  # rows new to `events` (received - inserted were already there)
    exact: bool = False  # True when the duplicate-tolerant path ran


class EventWriter:
    """One connection; `write(recs)` stores a batch atomically and idempotently."""

    def __init__(self, dsn: str, *, connect_timeout: int = 5) -> None:
        self.dsn = dsn
        self.connect_timeout = connect_timeout
        self.conn: psycopg.Connection | None = None
        self.exact_batches = 0

    def connect(self) -> None:
        self.close()
        self.conn = psycopg.connect(self.dsn, connect_timeout=self.connect_timeout)
        self.conn.execute(_STAGE_DDL)
        self.conn.commit()

    def close(self) -> None:
        if self.conn is not None:
            try:
                self.conn.close()
            finally:
                self.conn = None

    def write(self, recs: np.ndarray) -> WriteResult:
        """Store EVENT records; raises psycopg.OperationalError if the server is unreachable."""
        if self.conn is None or self.conn.closed:
            self.connect()
        if len(recs) == 0:
            return WriteResult(0, 0)
        try:
            return self._txn(recs, exact=False)
        except psycopg.errors.UniqueViolation:
            self.exact_batches += 1
            return self._txn(recs, exact=True)

    def _txn(self, recs: np.ndarray, *, exact: bool) -> WriteResult:
        conn = self.conn
        assert conn is not None
        try:
            with conn.cursor() as cur:
                if exact:
                    self._copy(cur, "stage_events", EVENT_COLS, recs)
                    row = cur.execute(_EXACT).fetchone()
                    inserted = int(row[0]) if row else 0
                    # orders from every record is fine: the upsert only moves an order forward in seq
                else:
                    self._copy(cur, "events", EVENT_COLS, recs)
                    fills = recs[recs["kind"] == R.ORDER_FILLED]
                    if len(fills):
                        self._copy(cur, "fills", FILL_COLS, fills)
                    inserted = len(recs)
                latest = latest_per_order(recs)
                if len(latest):
                    self._copy(cur, "stage_orders", ORDER_COLS, latest)
                    cur.execute(_UPSERT_ORDERS)
            conn.commit()
        except BaseException:
            try:
                conn.rollback()
            except psycopg.Error:
                self.close()
            raise
        return WriteResult(len(recs), inserted, exact)

    @staticmethod
    def _copy(cur: psycopg.Cursor, table: str, cols: list[Col], recs: np.ndarray) -> None:
        with cur.copy(f"COPY {table} ({_names(cols)}) FROM STDIN (FORMAT BINARY)") as cp:
            cp.write(memoryview(copy_buffer(recs, cols)))


class ParallelEventWriter:
    """`parts` EventWriters writing the parts of one batch at once (see the module docstring)."""

    MIN_PART = 4096  # smaller batches go through one writer (a transaction has a fixed cost)

    def __init__(self, dsn: str, *, parts: int = 4, connect_timeout: int = 5) -> None:
        if not 1 <= parts <= 32:
            raise ValueError(f"parts={parts}: use 1..32 parallel writers")
        self.writers = [EventWriter(dsn, connect_timeout=connect_timeout) for _ in range(parts)]
        self._pool: ThreadPoolExecutor | None = None

    @property
    def exact_batches(self) -> int:
        return sum(w.exact_batches for w in self.writers)

    def split(self, recs: np.ndarray) -> list[np.ndarray]:
        """The parts of a batch: by client_order_id (order events), by seq for the rest; order kept."""
        n = min(len(self.writers), max(1, len(recs) // self.MIN_PART))
        if n == 1:
            return [recs]
        coid = recs["client_order_id"]
        key = np.where(coid != 0, coid, recs["seq"]) % np.uint64(n)
        return [p for p in (recs[key == i] for i in range(n)) if len(p)]

    def write(self, recs: np.ndarray) -> WriteResult:
        """Store EVENT records (every part committed on return); the first part's error is raised
        after every part finished (a retry of the batch is then idempotent)."""
        parts = self.split(recs)
        if len(parts) == 1:
            return self.writers[0].write(parts[0])
        if self._pool is None:
            self._pool = ThreadPoolExecutor(len(self.writers), thread_name_prefix="pg-writer")
        futs = [self._pool.submit(w.write, p) for w, p in zip(self.writers, parts, strict=False)]
        results, error = [], None
        for f in futs:
            try:
                results.append(f.result())
            except BaseException as e:  # wait for the others before raising: none may still run
                error = error or e
        if error is not None:
            raise error
        return WriteResult(
            sum(r.received for r in results), sum(r.inserted for r in results), any(r.exact for r in results)
        )

    def close(self) -> None:
        for w in self.writers:
            w.close()
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
