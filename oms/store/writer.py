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
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import psycopg

from oms.shm import records as R

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


_INT = {2: ">i2", 4: ">i4", 8: ">i8"}
_COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + (0).to_bytes(4, "big") + (0).to_bytes(4, "big")
_COPY_TRAILER = (-1).to_bytes(2, "big", signed=True)
_ORDER_KINDS = np.arange(R.ORDER_SUBMITTED, R.MODIFY_REJECTED + 1)
_row_dtypes: dict[int, np.dtype] = {}


def _row_dtype(cols: list[Col]) -> np.dtype:
    key = id(cols)
    if key not in _row_dtypes:
        fields = [("nfields", ">i2")]
        for c, _, size in cols:
            fields += [(f"l_{c}", ">i4"), (f"v_{c}", _INT[size])]
        _row_dtypes[key] = np.dtype(fields)
    return _row_dtypes[key]


def copy_payload(recs: np.ndarray, cols: list[Col] = EVENT_COLS) -> bytes:
    """PostgreSQL binary COPY bytes (header, rows, trailer) for `cols` of EVENT records.

    u64 fields keep their 64-bit pattern in a bigint (values >= 2^63 read back negative)."""
    rows = np.empty(len(recs), _row_dtype(cols))
    rows["nfields"] = len(cols)
    for col, field, size in cols:
        rows[f"l_{col}"] = size
        src = recs[field]
        if src.dtype.kind == "u" and src.dtype.itemsize == size:
            src = src.view(src.dtype.str.replace("u", "i"))
        rows[f"v_{col}"] = src
    return _COPY_HEADER + rows.tobytes() + _COPY_TRAILER


def latest_per_order(recs: np.ndarray) -> np.ndarray:
    """The highest-seq order event of each client_order_id (order kinds only, id != 0)."""
    o = recs[np.isin(recs["kind"], _ORDER_KINDS) & (recs["client_order_id"] != 0)]
    if len(o) == 0:
        return o
    o = o[np.lexsort((o["seq"], o["client_order_id"]))]
    last = np.ones(len(o), bool)
    last[:-1] = o["client_order_id"][1:] != o["client_order_id"][:-1]
    return o[last]


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
            cp.write(copy_payload(recs, cols))
