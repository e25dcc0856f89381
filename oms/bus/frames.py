"""Bus room: frames, the unit JetStream carries: many fixed-size records behind one 48-byte header.

Touches nothing (pure functions over numpy arrays). A frame is the records' own bytes (no per-record
encoding), so building one is a memcpy. Header (little-endian, 48 bytes):

| off | size | field         | meaning                                                   |
|-----|------|---------------|-----------------------------------------------------------|
| 0   | 4    | magic         | b"OMSF"                                                   |
| 4   | 2    | frame_version | FRAME_VERSION (this header's layout)                      |
| 6   | 2    | layout        | oms.shm.records.LAYOUT_VERSION of the records             |
| 8   | 8    | dtype_hash    | records.dtype_hash(dtype): which record family            |
| 16  | 4    | count         | records in the frame                                      |
| 20  | 4    | record_size   | itemsize (64 or 128)                                      |
| 24  | 8    | first_seq     | `seq` of the first record                                 |
| 32  | 8    | last_seq      | `seq` of the last record                                  |
| 40  | 4    | source        | producer id (EVENT/COMMAND `source`), 0 for market data   |
| 44  | 4    | reserved      | 0                                                         |

`decode` checks every field and raises `Rejected` naming what did not match, so a frame written by an
incompatible build is refused rather than misread. `msg_id` gives the Nats-Msg-Id JetStream de-duplicates
on: the same records re-sent (after a lost ack, a reconnect or from the spool) get the same id.
`split_events` groups a chunk of EVENT records by subject (action, exchange, market, symbol).
"""

from __future__ import annotations

from collections.abc import Callable

import msgspec
import numpy as np

from oms.errors import Rejected
from oms.ids import MARKET_NAMES, VENUE_NAMES
from oms.shm import records as R

MAGIC = b"OMSF"
FRAME_VERSION = 1
HEADER = np.dtype(
    [
        ("magic", "S4"),
        ("frame_version", "<u2"),
        ("layout", "<u2"),
        ("dtype_hash", "<u8"),
        ("count", "<u4"),
        ("record_size", "<u4"),
        ("first_seq", "<u8"),
        ("last_seq", "<u8"),
        ("source", "<u4"),
        ("reserved", "<u4"),
    ]
)
HEADER_SIZE = HEADER.itemsize
assert HEADER_SIZE == 48

DTYPES: dict[int, tuple[str, np.dtype]] = {
    R.dtype_hash(R.EVENT): ("EVENT", R.EVENT),
    R.dtype_hash(R.MARKET): ("MARKET", R.MARKET),
    R.dtype_hash(R.COMMAND): ("COMMAND", R.COMMAND),
}


class FrameHeader(msgspec.Struct, frozen=True):
    family: str
    layout: int
    dtype_hash: int
    count: int
    record_size: int
    first_seq: int
    last_seq: int
    source: int


def encode(recs: np.ndarray, *, source: int | None = None) -> bytes:
    """Header + the records' bytes. `recs` must be a non-empty EVENT, MARKET or COMMAND array."""
    dh = R.dtype_hash(recs.dtype)
    if dh not in DTYPES:
        raise Rejected(f"frame: dtype {recs.dtype} is not a known record family (EVENT, MARKET, COMMAND)")
    n = len(recs)
    if n == 0 or n > 0xFFFFFFFF:
        raise Rejected(f"frame: record count {n} must be 1..{0xFFFFFFFF}")
    h = np.zeros(1, HEADER)
    h["magic"] = MAGIC
    h["frame_version"] = FRAME_VERSION
    h["layout"] = R.LAYOUT_VERSION
    h["dtype_hash"] = dh
    h["count"] = n
    h["record_size"] = recs.dtype.itemsize
    h["first_seq"] = recs["seq"][0]
    h["last_seq"] = recs["seq"][-1]
    if source is None:
        source = int(recs["source"][0]) if "source" in recs.dtype.names else 0
    h["source"] = source
    return h.tobytes() + np.ascontiguousarray(recs).tobytes()


def header(data: bytes | memoryview) -> FrameHeader:
    """Parse and check the header; raises Rejected naming the field that does not match."""
    if len(data) < HEADER_SIZE:
        raise Rejected(f"frame: {len(data)} bytes is shorter than the {HEADER_SIZE}-byte header")
    h = np.frombuffer(data, HEADER, count=1)[0]
    if bytes(h["magic"]) != MAGIC:
        raise Rejected(f"frame: magic {bytes(h['magic'])!r} is not {MAGIC!r}; not an OMS frame")
    if int(h["frame_version"]) != FRAME_VERSION:
        raise Rejected(
            f"frame: frame_version {int(h['frame_version'])} but this build reads {FRAME_VERSION}; "
            "upgrade the reader or drain the stream with the matching build"
        )
    if int(h["layout"]) != R.LAYOUT_VERSION:
        raise Rejected(
            f"frame: record layout {int(h['layout'])} but this build has LAYOUT_VERSION {R.LAYOUT_VERSION}"
        )
    dh = int(h["dtype_hash"])
    if dh not in DTYPES:
        raise Rejected(f"frame: dtype_hash {dh:#018x} matches no record family of this build")
    family, dt = DTYPES[dh]
    if int(h["record_size"]) != dt.itemsize:
        raise Rejected(f"frame: record_size {int(h['record_size'])} but {family} is {dt.itemsize} bytes")
    n = int(h["count"])
    want = HEADER_SIZE + n * dt.itemsize
    if len(data) != want:
        raise Rejected(f"frame: {len(data)} bytes but header says {n} {family} records ({want} bytes)")
    return FrameHeader(
        family,
        int(h["layout"]),
        dh,
        n,
        dt.itemsize,
        int(h["first_seq"]),
        int(h["last_seq"]),
        int(h["source"]),
    )


def decode(data: bytes | memoryview) -> tuple[FrameHeader, np.ndarray]:
    """(header, records) with the records a read-only view over `data` (copy it to keep it)."""
    h = header(data)
    dt = DTYPES[h.dtype_hash][1]
    recs = np.frombuffer(data, dt, count=h.count, offset=HEADER_SIZE)
    return h, recs


def msg_id(subject: str, h: FrameHeader | None = None, *, data: bytes | None = None) -> str:
    """Nats-Msg-Id: the same records on the same subject always get the same id."""
    if h is None:
        if data is None:
            raise ValueError("msg_id needs a header or the frame bytes")
        h = header(data)
    return f"{subject}:{h.family}:{h.source}:{h.first_seq}-{h.last_seq}:{h.count}"


# ---- EVENT records → subjects ---------------------------------------------------------------------
ACT_ORDERS, ACT_FILLS, ACT_RISK = 0, 1, 2
_ACTION_NAMES = ("orders", "fills", "risk")

SymbolOf = Callable[[int, int, int], str]


def default_symbol(venue: int, market: int, instrument: int) -> str:
    """Fallback symbol token when no instrument registry is given: `I<instrument id>`."""
    return f"I{instrument}" if instrument else "ALL"


def event_actions(recs: np.ndarray) -> np.ndarray:
    """Action code per EVENT record: fills for OrderFilled, risk for venue-less/risk kinds and the venue's
    futures settings (LeverageChanged, MarginModeChanged, PositionReport: risk.<exchange>.<market>.<symbol>;
    positions.* carries the engine's JSON PositionChanged), else orders."""
    kind = recs["kind"]
    act = np.full(len(recs), ACT_ORDERS, np.uint64)
    act[kind == R.ORDER_FILLED] = ACT_FILLS
    act[np.isin(kind, R.FUTURES_REPORTS)] = ACT_RISK
    act[(kind == R.RISK_LIMIT_CHANGED) | (kind == R.TRADING_STATE_CHANGED) | (recs["venue"] == 0)] = ACT_RISK
    return act


def event_subject(action: int, venue: int, market: int, instrument: int, symbol_of: SymbolOf) -> str:
    ex = VENUE_NAMES.get(venue, "all") if venue else "all"
    mk = MARKET_NAMES.get(market, "all") if (market and venue) else "all"
    sym = symbol_of(venue, market, instrument) if (venue and instrument) else "ALL"
    return f"{_ACTION_NAMES[action]}.{ex}.{mk}.{sym}"


def split_events(recs: np.ndarray, symbol_of: SymbolOf = default_symbol) -> list[tuple[str, np.ndarray]]:
    """Group EVENT records by subject, keeping each group's order; returns (subject, records copy)."""
    if len(recs) == 0:
        return []
    act = event_actions(recs)
    key = (
        (act << np.uint64(56))
        | (recs["venue"].astype(np.uint64) << np.uint64(40))
        | ((recs["market"].astype(np.uint64) & np.uint64(0xFF)) << np.uint64(32))
        | recs["instrument"].astype(np.uint64)
    )
    first = key[0]
    if bool((key == first).all()):
        return [(_subject_of(int(first), symbol_of), recs.copy())]
    uniq, inv = np.unique(key, return_inverse=True)
    order = np.argsort(inv, kind="stable")
    counts = np.bincount(inv, minlength=len(uniq))
    out: list[tuple[str, np.ndarray]] = []
    start = 0
    for k, c in zip(uniq.tolist(), counts.tolist(), strict=True):
        out.append((_subject_of(k, symbol_of), recs[order[start : start + c]]))
        start += c
    return out


def _subject_of(key: int, symbol_of: SymbolOf) -> str:
    act = key >> 56
    venue = (key >> 40) & 0xFFFF
    market = (key >> 32) & 0xFF
    instrument = key & 0xFFFFFFFF
    if act == ACT_RISK:
        venue = venue if venue in VENUE_NAMES else 0
    return event_subject(act, venue, market if market in MARKET_NAMES else 0, instrument, symbol_of)


def registry_symbols(registry: object) -> SymbolOf:
    """SymbolOf backed by the instrument registry (oms/venues/instruments.py), cached per id; ids it
    does not know, or symbols that are not valid subject tokens, fall back to `I<id>`."""
    import re

    ok = re.compile(r"^[A-Z0-9][A-Z0-9_\-]{0,47}$")
    cache: dict[int, str] = {}

    def symbol_of(venue: int, market: int, instrument: int) -> str:
        got = cache.get(instrument)
        if got is None:
            try:
                sym = str(registry.by_id(instrument).symbol).upper()  # type: ignore[attr-defined]
            except Exception:  # unknown id (Rejected) or a registry without the method
                sym = ""
            got = cache[instrument] = sym if ok.match(sym) else default_symbol(venue, market, instrument)
        return got

    return symbol_of
