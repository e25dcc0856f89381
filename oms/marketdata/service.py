"""Market-data room: the running service — state arrays, rings, the polling thread and the Python face.

Touches: consumes `conn.<venue>.md` rings and produces `md.engine` and, unless `bridge=False`,
`md.bridge` (oms/shm/names.py): the BBO and trade records for the bridge to publish on NATS
(`market.{exchange}.{market}.{symbol}`). That ring is lossy by design: when the bridge is slow or absent
the records that do not fit are counted (`bridge_drops`) and never waited on. It does not
write the BBO table: each connector writes its own instruments' rows from its synced book (one writer
per row keeps the seqlock sound, and the table stays current even when an md ring is full).
`MarketData.poll_once()` drains every input ring through the njit `process`
kernel; `run()` loops it in a thread with the ring module's wait strategy (spin only on an owned core).
The Python face answers the slow questions: consolidated top-N book of a pair across venues,
VWAP/TWAP, the arbitrage state; arbitrage signals go to `on_signal` callbacks.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

import numpy as np

from oms import log
from oms.engine.instruments import InstrumentSpec
from oms.errors import ConfigError
from oms.marketdata import kernels as K
from oms.shm import names
from oms.shm import records as R
from oms.shm.ring import open_ring
from oms.shm.wait import Backoff

_log = log.get(__name__)


@dataclass(frozen=True, slots=True)
class ArbSignal:
    pair: str
    buy: int  # instrument to buy (lowest net ask)
    sell: int  # instrument to sell (highest net bid)
    edge_bp: float
    ts_ns: int


@dataclass(slots=True)
class MdConfig:
    depth: int = 50  # book levels kept per side
    buckets: int = 60  # VWAP/TWAP window = buckets × bucket_s
    bucket_s: float = 1.0
    min_edge_bp: float = 1.0  # arbitrage signal threshold, net of taker fees
    batch: int = 256
    ring_capacity: int = 1 << 16

    def validate(self) -> None:
        if self.depth < 1 or self.buckets < 1 or self.bucket_s <= 0 or self.batch < 1:
            raise ConfigError(
                f"marketdata: depth={self.depth}, buckets={self.buckets}, bucket_s={self.bucket_s}, "
                f"batch={self.batch} must all be > 0"
            )


@dataclass
class MdState:
    top: np.ndarray
    book: np.ndarray
    buckets: np.ndarray
    last_mid: np.ndarray
    tick_e8: np.ndarray
    fee_ppm: np.ndarray
    group: np.ndarray
    members: np.ndarray
    arb: np.ndarray
    stats: np.ndarray
    pairs: list[str] = field(default_factory=list)
    specs: dict[int, InstrumentSpec] = field(default_factory=dict)

    @classmethod
    def build(cls, specs: Sequence[InstrumentSpec], cfg: MdConfig, taker_fee: dict[int, Decimal]) -> MdState:
        n = max((s.id for s in specs), default=0) + 1
        pairs: dict[str, list[int]] = {}
        for s in specs:
            pairs.setdefault(f"{s.base}/{s.quote}", []).append(s.id)
        m = max((len(v) for v in pairs.values()), default=1)
        st = cls(
            top=np.zeros((n, 6), np.int64),
            book=np.zeros((n, 2, cfg.depth, 2), np.int64),
            buckets=np.zeros((n, cfg.buckets, 5), np.float64),
            last_mid=np.zeros((n, 2), np.float64),
            tick_e8=np.zeros(n, np.float64),
            fee_ppm=np.zeros(n, np.float64),
            group=np.full(n, -1, np.int32),
            members=np.full((max(len(pairs), 1), m), -1, np.int32),
            arb=np.zeros((max(len(pairs), 1), 6), np.int64),
            stats=np.zeros(K.N_COUNTERS, np.int64),
            pairs=list(pairs),
            specs={s.id: s for s in specs},
        )
        for g, (_pair, ids) in enumerate(pairs.items()):
            for k, i in enumerate(ids):
                st.members[g, k] = i
                st.group[i] = g
        for s in specs:
            st.tick_e8[s.id] = float(s.tick_size * 100_000_000)
            st.fee_ppm[s.id] = float(taker_fee.get(s.id, Decimal(0)) * 1_000_000)
        return st


class MarketData:
    def __init__(self, specs: Sequence[InstrumentSpec], venues: Sequence[str], *, prefix: str = "oms",
                 cfg: MdConfig | None = None, taker_fee: dict[int, Decimal] | None = None,
                 backoff: Backoff | None = None, bridge: bool = True) -> None:  # fmt: skip
        self.cfg = cfg or MdConfig()
        self.cfg.validate()
        self.state = MdState.build(specs, self.cfg, taker_fee or {})
        self.inputs = {v: open_ring(names.venue_market_data(v, prefix), R.MARKET, self.cfg.ring_capacity,
                                    producer=False) for v in venues}  # fmt: skip
        self.engine = open_ring(names.market_data_to_engine(prefix), R.MARKET, self.cfg.ring_capacity,
                                producer=True)  # fmt: skip
        self.bridge = (open_ring(names.market_data_to_bridge(prefix), R.MARKET, self.cfg.ring_capacity,
                                 producer=True) if bridge else None)  # fmt: skip
        self.bridge_sent = self.bridge_drops = 0
        self.backoff = backoff or Backoff()
        self._buf = np.zeros(self.cfg.batch, R.MARKET)
        self._sig = np.zeros((self.cfg.batch, 5), np.int64)
        self.bucket_ns = int(self.cfg.bucket_s * 1e9)
        self.min_edge = int(self.cfg.min_edge_bp * 100)
        self.on_signal: list[Callable[[ArbSignal], None]] = []
        self.signals: list[ArbSignal] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.error: BaseException | None = None

    # --- hot loop ----------------------------------------------------------------------------
    def poll_once(self) -> int:
        s = self.state
        done = 0
        for ring in self.inputs.values():
            n = ring.consume(self._buf)
            if not n:
                continue
            done += n
            ns = K.process(self._buf, n, s.top, s.book, s.buckets, s.last_mid, self.bucket_ns, s.tick_e8,
                           s.fee_ppm, s.group, s.members, s.arb, self.min_edge, self.engine.ctrl,
                           self.engine.buf, True, self._sig, s.stats)  # fmt: skip
            if self.bridge is not None:
                self._to_bridge(n)
            for row in self._sig[:ns]:
                sig = ArbSignal(s.pairs[int(row[0])], int(row[1]), int(row[2]), row[3] / 100.0, int(row[4]))
                self.signals.append(sig)
                _log.info(
                    "arbitrage %s: buy #%d sell #%d edge %.2f bp", sig.pair, sig.buy, sig.sell, sig.edge_bp
                )
                for cb in self.on_signal:
                    cb(sig)
        return done

    def _to_bridge(self, n: int) -> None:
        """BBO and trade records of this batch to the bridge ring; what does not fit is dropped."""
        k = self._buf["kind"][:n]
        sel = self._buf[:n][(k == R.MD_BBO) | (k == R.MD_TRADE)]
        if len(sel):
            put = self.bridge.publish_batch(sel)  # type: ignore[union-attr]
            self.bridge_sent += put
            self.bridge_drops += len(sel) - put

    def run(self) -> None:
        last_beat = 0.0
        while not self._stop.is_set():
            if self.poll_once():
                self.backoff.reset()
            else:
                self.backoff.idle()
            now = time.monotonic()
            if now - last_beat > 0.5:
                self.engine.heartbeat()
                if self.bridge is not None:
                    self.bridge.heartbeat()
                last_beat = now

    def start(self) -> None:
        def _main() -> None:
            try:
                self.run()
            except BaseException as e:  # surfaced by stop() / the process
                self.error = e
                _log.exception("market-data loop failed")

        self._thread = threading.Thread(target=_main, name="marketdata", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(5)

    def close(self) -> None:
        self.stop()
        for r in [*self.inputs.values(), self.engine, *([self.bridge] if self.bridge else [])]:
            r.close()

    # --- Python face -------------------------------------------------------------------------
    def vwap_twap(self, instrument: int, now_ns: int | None = None) -> tuple[float, float]:
        """(VWAP, TWAP) in ticks over the configured window (NaN without data)."""
        now = now_ns if now_ns is not None else time.time_ns()
        return K.vwap_twap(self.state.buckets, instrument, now, self.bucket_ns)

    def consolidated(self, pair: str, levels: int = 10) -> dict[str, list[tuple[Decimal, Decimal, int]]]:
        """Top `levels` of the pair's book across every venue: [(price, qty, instrument)] in decimal
        units (price × tick size, qty × lot size × contract size), bids high→low, asks low→high."""
        s = self.state
        if pair not in s.pairs:
            raise ConfigError(f"unknown pair {pair!r}; known: {', '.join(s.pairs)}")
        g = s.pairs.index(pair)
        bids: list[tuple[Decimal, Decimal, int]] = []
        asks: list[tuple[Decimal, Decimal, int]] = []
        for i in s.members[g]:
            if i < 0:
                break
            spec = s.specs[int(i)]
            for side, out in ((0, bids), (1, asks)):
                for px, q in s.book[i, side]:
                    if q == 0:
                        break
                    out.append((Decimal(int(px)) * spec.tick_size,
                                Decimal(int(q)) * spec.lot_size * spec.contract_size, int(i)))  # fmt: skip
        bids.sort(key=lambda x: -x[0])
        asks.sort(key=lambda x: x[0])
        return {"bids": bids[:levels], "asks": asks[:levels]}

    def stats(self) -> dict[str, int]:
        st = self.state.stats
        return {
            "records": int(st[K.C_RECORDS]),
            "forwarded": int(st[K.C_FORWARDED]),
            "engine_drops": int(st[K.C_ENGINE_DROPS]),
            "book_overflow": int(st[K.C_BOOK_OVERFLOW]),
            "arb_signals": int(st[K.C_SIGNALS]),
            "unknown": int(st[K.C_UNKNOWN]),
            "bridge_sent": self.bridge_sent,
            "bridge_drops": self.bridge_drops,
        }
