"""Backtest room: the tape file — MARKET records with a small self-describing header.

Touches only the files it is asked to read or write (and, for `record`, one MARKET ring it attaches
to as consumer). Layout (little endian):

| offset | size | field                                                            |
|--------|------|------------------------------------------------------------------|
| 0      | 8    | magic b"OMSTAPE1"                                                |
| 8      | 4    | records.LAYOUT_VERSION at write time                             |
| 12     | 4    | record size (64)                                                 |
| 16     | 8    | records.dtype_hash(MARKET)                                       |
| 24     | 8    | record count                                                     |
| 32     | 4    | meta length M (bytes of UTF-8 JSON)                              |
| 36     | M    | meta JSON: {"instruments": [...], "source": ..., "seed": ...}    |
| 36+M   | pad  | zero bytes up to a multiple of 64                                |
| ...    | 64*n | MARKET records, in time order (ts_ns)                            |

The meta's instruments describe what the records' instrument ids mean (venue, market, symbol,
base, quote, tick_size, lot_size, contract_size, maker_fee, taker_fee as decimal strings), so a tape
is replayable on its own. `synth` writes a seeded random-walk tape (BBO + trades) for tests/demos.
"""

from __future__ import annotations

import json
import struct
import time
from dataclasses import asdict, dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path

import numpy as np

from oms import ids
from oms.engine.instruments import InstrumentSpec, scale_fraction
from oms.errors import ConfigError
from oms.shm import records as R

MAGIC = b"OMSTAPE1"
_HEAD = struct.Struct("<8sIIQQI")  # magic, version, itemsize, dtype hash, count, meta length
_ALIGN = 64


@dataclass(frozen=True, slots=True)
class TapeInstrument:
    id: int
    venue: str = "binance"
    market: str = "spot"
    symbol: str = "BTCUSDT"
    base: str = "BTC"
    quote: str = "USDT"
    tick_size: str = "0.01"
    lot_size: str = "0.00001"
    contract_size: str = "1"
    maker_fee: str = "0.0001"  # fraction of notional (negative = rebate)
    taker_fee: str = "0.0004"

    def spec(self) -> InstrumentSpec:
        m, d = scale_fraction(self.tick_size, self.lot_size, self.contract_size)
        return InstrumentSpec(
            id=self.id,
            venue=ids.VENUES[self.venue],
            market=ids.MARKETS[self.market],
            mult=m,
            div=d,
            base=self.base,
            quote=self.quote,
            symbol=self.symbol,
            tick_size=Decimal(self.tick_size),
            lot_size=Decimal(self.lot_size),
            contract_size=Decimal(self.contract_size),
        )

    @classmethod
    def from_dict(cls, d: dict[str, object], where: str) -> TapeInstrument:
        known = set(cls.__dataclass_fields__)
        extra = set(d) - known
        if extra:
            raise ConfigError(f"{where}: unknown instrument keys {sorted(extra)}; known: {sorted(known)}")
        if "id" not in d:
            raise ConfigError(f"{where}: instrument needs an integer 'id'")
        inst = cls(**{k: (int(v) if k == "id" else str(v)) for k, v in d.items()})  # type: ignore[arg-type]
        if inst.venue not in ids.VENUES:
            raise ConfigError(f"{where}: venue {inst.venue!r} unknown; known: {sorted(ids.VENUES)}")
        if inst.market not in ids.MARKETS:
            raise ConfigError(f"{where}: market {inst.market!r} unknown; known: {sorted(ids.MARKETS)}")
        for k in ("tick_size", "lot_size", "contract_size", "maker_fee", "taker_fee"):
            try:
                Decimal(getattr(inst, k))
            except InvalidOperation:
                raise ConfigError(f"{where}: {k}={getattr(inst, k)!r} must be a decimal number") from None
        return inst


@dataclass(slots=True)
class Tape:
    records: np.ndarray  # MARKET
    instruments: list[TapeInstrument] = field(default_factory=list)
    meta: dict[str, object] = field(default_factory=dict)

    def instrument(self, i: int) -> TapeInstrument:
        for inst in self.instruments:
            if inst.id == i:
                return inst
        return TapeInstrument(id=i)


def write(path: str | Path, records: np.ndarray, instruments: list[TapeInstrument], **meta: object) -> int:
    """Write a tape atomically (tmp + rename); returns the record count."""
    if records.dtype != R.MARKET:
        raise ConfigError(f"tape records must be MARKET records, got dtype {records.dtype}")
    body = dict(meta)
    body["instruments"] = [asdict(i) for i in instruments]
    mj = json.dumps(body, sort_keys=True).encode()
    head = _HEAD.pack(
        MAGIC, R.LAYOUT_VERSION, R.MARKET.itemsize, R.dtype_hash(R.MARKET), len(records), len(mj)
    )
    pad = (-(len(head) + len(mj))) % _ALIGN
    p = Path(path)
    tmp = p.with_name(p.name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(head + mj + b"\0" * pad)
        f.write(np.ascontiguousarray(records).tobytes())
    tmp.replace(p)
    return len(records)


def read(path: str | Path) -> Tape:
    """Read a tape; every mismatch names the file and what to do."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as e:
        raise ConfigError(f"tape {p}: cannot read ({e.strerror}); pass an existing tape file") from None
    if len(raw) < _HEAD.size:
        raise ConfigError(f"tape {p}: {len(raw)} bytes is shorter than the {_HEAD.size}-byte header")
    magic, ver, size, h, n, mlen = _HEAD.unpack_from(raw)
    if magic != MAGIC:
        raise ConfigError(
            f"tape {p}: magic {magic!r} is not {MAGIC!r}; not a tape (write one with `oms tape`)"
        )
    if ver != R.LAYOUT_VERSION or size != R.MARKET.itemsize or h != R.dtype_hash(R.MARKET):
        raise ConfigError(
            f"tape {p}: layout version {ver}/record size {size}/dtype hash {h:#x} does not match this build "
            f"({R.LAYOUT_VERSION}/{R.MARKET.itemsize}/{R.dtype_hash(R.MARKET):#x}); re-record the tape"
        )
    start = _HEAD.size + mlen
    start += (-start) % _ALIGN
    if len(raw) != start + n * size:
        raise ConfigError(
            f"tape {p}: header says {n} records ({start + n * size} bytes) but the file has {len(raw)} "
            "bytes (truncated or appended to); re-record it"
        )
    try:
        meta = json.loads(raw[_HEAD.size : _HEAD.size + mlen])
    except ValueError as e:
        raise ConfigError(f"tape {p}: meta JSON is corrupt ({e})") from None
    recs = np.frombuffer(raw, R.MARKET, count=n, offset=start).copy()
    insts = [TapeInstrument.from_dict(d, f"tape {p} meta") for d in meta.pop("instruments", [])]
    return Tape(recs, insts, meta)


# ---- synthetic tapes ------------------------------------------------------------------------------
T0_NS = 1_800_000_000_000_000_000  # 2027-01-15, mid-day UTC: one trading day, no daily roll


def synth(
    n: int,
    *,
    seed: int = 0,
    instrument: int = 1,
    start_px: int = 5_000_000,  # 50000.00 in 0.01 ticks
    spread: int = 2,
    step_ns: int = 1_000_000,
    trade_every: int = 4,
    vol_ticks: float = 3.0,
    t0_ns: int = T0_NS,
) -> np.ndarray:
    """`n` MARKET records: BBO updates of a seeded random walk, a trade every `trade_every` records."""
    if n < 1 or spread < 1 or step_ns < 1 or trade_every < 1:
        raise ConfigError("synth: n, spread, step_ns, trade_every must all be >= 1")
    rng = np.random.default_rng(seed)
    out = np.zeros(n, R.MARKET)
    steps = np.rint(rng.normal(0.0, vol_ticks, n)).astype(np.int64)
    mid = start_px + np.cumsum(steps)
    mid = np.maximum(mid, spread * 10)
    bid = mid - spread // 2
    ask = bid + spread
    is_trade = (np.arange(n) % trade_every) == trade_every - 1
    side = np.where(rng.random(n) < 0.5, R.SIDE_BUY, R.SIDE_SELL).astype(np.int8)
    sizes = rng.integers(1, 200, n)
    out["instrument"] = instrument
    out["ts_venue_ns"] = t0_ns + np.arange(n, dtype=np.int64) * step_ns
    out["ts_ns"] = out["ts_venue_ns"] + 200_000
    out["seq"] = np.arange(1, n + 1, dtype=np.uint64)
    out["flags"] = R.MD_FLAG_LAST
    out["kind"] = np.where(is_trade, R.MD_TRADE, R.MD_BBO)
    # a trade prints at the touch of the side it takes: buy aggressor at the ask, sell at the bid
    out["price"] = np.where(is_trade, np.where(side == R.SIDE_BUY, ask, bid), bid)
    out["qty"] = np.where(is_trade, sizes, rng.integers(1, 1000, n))
    out["side"] = np.where(is_trade, side, 0)
    out["ask_price"] = np.where(is_trade, 0, ask)
    out["ask_qty"] = np.where(is_trade, 0, rng.integers(1, 1000, n))
    return out


# ---- recording a live ring ------------------------------------------------------------------------
def record(ring_name: str, *, seconds: float, max_records: int = 10_000_000, batch: int = 4096) -> np.ndarray:
    """Consume a MARKET ring for `seconds` (as its one SPSC consumer) and return the records read.

    The ring must have no other consumer while this runs (SPSC): use it on a stack without the
    marketdata process, or on a ring created for recording. Stops early at `max_records`.
    """
    from oms.shm.ring import Ring

    ring = Ring.attach(ring_name, R.MARKET, consumer=True)
    chunks: list[np.ndarray] = []
    got = 0
    buf = np.zeros(batch, R.MARKET)
    idle = 0.0
    try:
        end = time.monotonic() + seconds
        while got < max_records and time.monotonic() < end:
            k = ring.consume(buf[: min(batch, max_records - got)])
            if k:
                chunks.append(buf[:k].copy())
                got += k
                idle = 0.0
                continue
            idle = min(0.005, idle * 2 or 50e-6)  # back off while the ring is empty
            time.sleep(idle)
    finally:
        ring.close()
    return np.concatenate(chunks) if chunks else np.zeros(0, R.MARKET)
