"""Store room: PostgreSQL writers for EVENT records (binary COPY into a staging table, then one
idempotent INSERT ... ON CONFLICT DO NOTHING into events/fills and an upsert of orders).

Touches the `events`, `fills` and `orders` tables (schema: oms/store/migrations). The COPY payload is
built from the numpy records in one vectorised pass (PostgreSQL binary COPY: per row a 16-bit field
count, then per field a 32-bit length and the big-endian value), so no Python object per row exists.
Idempotence: the key is (source, seq); a record seen twice (JetStream redelivery, a bridge that re-read
its ring, a replayed spool) is skipped, so the tables never hold a duplicate.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import psycopg

from oms.shm import records as R

# (column, EVENT field, PostgreSQL type size in bytes)
COLUMNS: list[tuple[str, str, int]] = [
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
_COLS = ", ".join(c for c, _, _ in COLUMNS)
_INT = {2: ">i2", 4: ">i4", 8: ">i8"}
_ROW = np.dtype(
    [("nfields", ">i2")]
    + [item for c, _, size in COLUMNS for item in ((f"l_{c}", ">i4"), (f"v_{c}", _INT[size]))]
)
_COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + (0).to_bytes(4, "big") + (0).to_bytes(4, "big")
_COPY_TRAILER = (-1).to_bytes(2, "big", signed=True)

_FILLS = (
    "source, seq, account, venue, market, instrument, client_order_id, venue_order_id, trade_id, side, "
    "price, qty, fee, fee_asset, liquidity, ts_venue_ns, ts_ns"
)
_ORDER_KINDS = tuple(range(R.ORDER_SUBMITTED, R.MODIFY_REJECTED + 1))

_STAGE_DDL = (
    "CREATE TEMP TABLE IF NOT EXISTS stage_events (LIKE events INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
)
_MERGE = f"""
WITH ins AS (
    INSERT INTO events ({_COLS}) SELECT {_COLS} FROM stage_events
    ON CONFLICT (source, seq) DO NOTHING
    RETURNING {_COLS}
), f AS (
    INSERT INTO fills ({_FILLS}) SELECT {_FILLS} FROM ins WHERE kind = {R.ORDER_FILLED}
    ON CONFLICT (source, seq) DO NOTHING
), o AS (
    INSERT INTO orders (client_order_id, source, last_seq, last_kind, status, account, venue, market,
                        instrument, venue_order_id, side, order_type, price, cum_qty, leaves_qty, ts_ns)
    SELECT DISTINCT ON (client_order_id)
           client_order_id, source, seq, kind, status, account, venue, market, instrument,
           venue_order_id, side, order_type, price, cum_qty, leaves_qty, ts_ns
      FROM ins
     WHERE client_order_id <> 0 AND kind IN ({", ".join(map(str, _ORDER_KINDS))})
     ORDER BY client_order_id, seq DESC
    ON CONFLICT (client_order_id) DO UPDATE SET
        source = excluded.source, last_seq = excluded.last_seq, last_kind = excluded.last_kind,
        status = excluded.status,
        venue_order_id = CASE WHEN excluded.venue_order_id <> 0 THEN excluded.venue_order_id
                              ELSE orders.venue_order_id END,
        price = CASE WHEN excluded.last_kind = {R.ORDER_FILLED} THEN orders.price ELSE excluded.price END,
        cum_qty = excluded.cum_qty, leaves_qty = excluded.leaves_qty, ts_ns = excluded.ts_ns
     WHERE orders.last_seq < excluded.last_seq
)
SELECT count(*) FROM ins
"""


def copy_payload(recs: np.ndarray) -> bytes:
    """PostgreSQL binary COPY bytes for EVENT records (header, rows, trailer)."""
    rows = np.empty(len(recs), _ROW)
    rows["nfields"] = len(COLUMNS)
    for col, field, size in COLUMNS:
        rows[f"l_{col}"] = size
        src = recs[field]
        if src.dtype.kind == "u":  # u64 → same bit pattern as int64; smaller unsigned fit the wider type
            src = src.view(src.dtype.str.replace("u", "i")) if src.dtype.itemsize == size else src
        rows[f"v_{col}"] = src
    return _COPY_HEADER + rows.tobytes() + _COPY_TRAILER


@dataclass(slots=True)
class WriteResult:
    received: int
    inserted: int  # rows new to `events` (received - inserted were already there)


class EventWriter:
    """One connection; `write(recs)` stores a batch atomically and idempotently."""

    def __init__(self, dsn: str, *, connect_timeout: int = 5) -> None:
        self.dsn = dsn
        self.connect_timeout = connect_timeout
        self.conn: psycopg.Connection | None = None

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
        assert self.conn is not None
        if len(recs) == 0:
            return WriteResult(0, 0)
        payload = copy_payload(recs)
        try:
            with self.conn.cursor() as cur:
                with cur.copy(f"COPY stage_events ({_COLS}) FROM STDIN (FORMAT BINARY)") as cp:
                    cp.write(payload)
                row = cur.execute(_MERGE).fetchone()
            self.conn.commit()
        except BaseException:
            try:
                self.conn.rollback()
            except psycopg.Error:
                self.close()
            raise
        return WriteResult(len(recs), int(row[0]) if row else 0)
