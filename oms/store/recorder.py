"""Store room: the recorder's logic, JetStream durable pull consumers → PostgreSQL and Redis.

Touches NATS (durable consumers `<durable_prefix>-<STREAM>`), PostgreSQL (events, fills, orders,
audit_log through ParallelEventWriter/AuditLog) and Redis (HotCache). A message is acked only after its
records are committed in PostgreSQL (every part of its batch), so:
- PostgreSQL down → the batch is retried every `reconnect_s` and never acked (`in_progress()` keeps
  JetStream from redelivering it meanwhile); later batches wait behind it; nothing is lost.
- recorder killed → JetStream redelivers every unacked message to the same durable after `ack_wait_s`;
  the writers are idempotent by (source, seq) / ext_id, so nothing is duplicated.
- Redis down → the cache update is skipped with a warning (PostgreSQL is the record; the cache is
  rebuilt by later events and expires by TTL).
A frame that fails its header check is terminated (`term()`, never redelivered) and logged by subject.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass

import nats
import numpy as np
import psycopg
import redis
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import FetchTimeoutError

from oms import log
from oms.bus import frames as F
from oms.bus import settings as bus_settings
from oms.bus import subjects
from oms.bus.audit import decode_record
from oms.bus.bridge import connect_nats
from oms.bus.streams import desired_streams, ensure_streams
from oms.errors import Rejected, Transient
from oms.shm import records as R
from oms.store import settings as store_settings
from oms.store.audit import AuditLog, AuditRecord
from oms.store.audithead import HeadExporter
from oms.store.cache import HotCache
from oms.store.writer import ParallelEventWriter

_log = log.get(__name__)


@dataclass(slots=True)
class RecorderStats:
    messages: int = 0
    events_received: int = 0
    events_inserted: int = 0
    market_records: int = 0
    audit_rows: int = 0
    bad_frames: int = 0
    pg_retries: int = 0
    cache_errors: int = 0
    last_error: str = ""


class Recorder:
    def __init__(
        self,
        bus: bus_settings.Settings,
        store: store_settings.Settings,
        *,
        streams: list[str] | None = None,
        use_cache: bool = True,
    ) -> None:
        self.bus, self.store = bus, store
        self.stream_names = streams or [
            c.name or "" for c in desired_streams(bus) if c.name != subjects.AUDIT_HEAD_STREAM
        ]
        self.stats = RecorderStats()
        # per stream `store.writers` connections: ORDERS_* and FILLS_* batches commit in parallel, and
        # each batch is itself written in parts at once (ParallelEventWriter)
        self.writers: dict[str, ParallelEventWriter] = {}
        self.audit = AuditLog(store.postgres_dsn)
        self.head_exporter: HeadExporter | None = None
        self.cache = (
            HotCache(
                store.redis_url,
                prefix=store.redis_prefix,
                ttl_closed_order_s=store.ttl_closed_order_s,
                ttl_bbo_s=store.ttl_bbo_s,
                ttl_balance_s=store.ttl_balance_s,
                ttl_position_s=store.ttl_position_s,
            )
            if use_cache
            else None
        )
        self.nc: nats.NATS | None = None
        self.js: JetStreamContext | None = None
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task] = []

    async def start(self) -> None:
        while self.nc is None:
            if self._stop.is_set():
                return
            try:
                self.nc = await connect_nats(self.bus.nats_url, "oms-recorder")
            except Transient as e:
                _log.warning("recorder: %s; retrying in 1 s", e)
                await asyncio.sleep(1.0)
        self.js = self.nc.jetstream()
        await ensure_streams(self.js, self.bus, update=False)
        for name in self.stream_names:
            durable = f"{self.bus.durable_prefix}-{name}"
            cfg = ConsumerConfig(
                durable_name=durable,
                ack_policy=AckPolicy.EXPLICIT,
                deliver_policy=DeliverPolicy.ALL,
                ack_wait=self.bus.ack_wait_s,
                max_ack_pending=max(1024, self.bus.fetch_batch * 4),
                max_deliver=-1,
            )
            try:
                await self.js.add_consumer(name, cfg)
            except Exception as e:  # exists with other settings: keep it (its position is what matters)
                _log.warning("durable %s on %s kept as is: %s", durable, name, e)
            sub = await self.js.pull_subscribe_bind(durable=durable, stream=name)
            self._tasks.append(asyncio.get_running_loop().create_task(self._consume(name, sub)))
        if subjects.AUDIT_STREAM in self.stream_names:  # export the chain's head out of PostgreSQL's reach
            self.head_exporter = HeadExporter(
                AuditLog(self.store.postgres_dsn, key=self.audit.key),
                path=self.store.audit_head_file or None,
                js=self.js,
                interval_s=self.store.audit_head_interval_s,
            )
            self._tasks.append(asyncio.get_running_loop().create_task(self.head_exporter.run(self._stop)))

    def request_stop(self) -> None:
        """Signal-safe: ends start()'s connect retries and run()."""
        self._stop.set()

    async def stop(self) -> None:
        self._stop.set()
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        self._tasks.clear()
        if self.nc is not None:
            await self.nc.close()
        for w in self.writers.values():
            w.close()
        self.audit.close()
        if self.head_exporter is not None:
            self.head_exporter.audit_log.close()
        if self.cache is not None:
            self.cache.close()

    async def run(self) -> None:
        await self.start()
        await self._stop.wait()

    # ---- per-stream loop -------------------------------------------------------------------------
    async def _consume(self, stream: str, sub: object) -> None:
        """Fetch batch N+1 while batch N is being written; batches are handled (and acked) in order."""
        pending: asyncio.Task | None = None
        try:
            while not self._stop.is_set():
                try:
                    msgs = await sub.fetch(self.bus.fetch_batch, timeout=1.0)  # type: ignore[attr-defined]
                except (FetchTimeoutError, TimeoutError):
                    continue
                except Exception as e:  # reconnecting: try again shortly
                    self.stats.last_error = f"fetch {stream}: {type(e).__name__}: {e}"
                    await asyncio.sleep(0.2)
                    continue
                if pending is not None:
                    await self._settle(stream, pending)
                pending = asyncio.get_running_loop().create_task(self._handle(stream, msgs))
        finally:
            if pending is not None and not pending.done():
                pending.cancel()

    async def _settle(self, stream: str, task: asyncio.Task) -> None:
        """Wait for a batch; an unexpected failure is logged and the loop goes on (the batch was not
        acked, so JetStream redelivers it after ack_wait)."""
        try:
            await task
        except asyncio.CancelledError:
            raise
        except Exception as e:
            self.stats.last_error = f"batch on {stream}: {type(e).__name__}: {e}"
            _log.exception("recorder: a batch on %s failed; JetStream will redeliver it", stream)

    async def _handle(self, stream: str, msgs: list) -> None:
        events: list[np.ndarray] = []
        market: list[np.ndarray] = []
        audits: list[AuditRecord] = []
        good: list = []
        for m in msgs:
            try:
                if m.subject.startswith("audit."):
                    audits.append(decode_record(m.data))
                else:
                    h, recs = F.decode(m.data)
                    (market if h.family == "MARKET" else events).append(recs)
                good.append(m)
            except Rejected as e:
                self.stats.bad_frames += 1
                _log.error("recorder: dropping bad message on %s (stream %s): %s", m.subject, stream, e)
                await m.term()
        self.stats.messages += len(msgs)
        ev = np.concatenate(events) if events else np.empty(0, R.EVENT)
        # the cache update runs alongside the PostgreSQL write (both guarded/idempotent); acks wait
        # for PostgreSQL only to commit, and for the cache attempt to finish
        cache_task = (
            asyncio.get_running_loop().create_task(self._update_cache(ev, market))
            if self.cache is not None
            else None
        )
        await self._persist(stream, ev, audits, good)
        if cache_task is not None:
            await cache_task
        for m in good:
            await m.ack()

    async def _update_cache(self, ev: np.ndarray, market: list[np.ndarray]) -> None:
        assert self.cache is not None
        try:
            if len(ev):
                await asyncio.to_thread(self.cache.apply_events, ev)
            for mk in market:
                self.stats.market_records += len(mk)
                await asyncio.to_thread(self.cache.apply_market, mk)
        except redis.RedisError as e:
            self.stats.cache_errors += 1
            _log.warning("recorder: Redis cache update skipped: %s", e)

    async def _persist(self, stream: str, ev: np.ndarray, audits: list[AuditRecord], msgs: list) -> None:
        """Write to PostgreSQL, retrying until it works (messages stay unacked meanwhile)."""
        last_progress = time.monotonic()
        warned = False
        while True:
            try:
                if len(ev):
                    writer = self.writers.get(stream)
                    if writer is None:
                        writer = self.writers[stream] = ParallelEventWriter(
                            self.store.postgres_dsn, parts=self.store.writers
                        )
                    res = await asyncio.to_thread(writer.write, ev)
                    self.stats.events_received += res.received
                    self.stats.events_inserted += res.inserted
                if audits:
                    rows = await asyncio.to_thread(self.audit.append_many, audits)
                    self.stats.audit_rows += sum(r is not None for r in rows)
                if warned:
                    _log.info("recorder: PostgreSQL is back; catching up")
                return
            except (psycopg.errors.DeadlockDetected, psycopg.errors.SerializationFailure) as e:
                self.stats.pg_retries += 1  # two streams upserting the same orders: just retry
                _log.info("recorder: %s on %s, retrying", type(e).__name__, stream)
                continue
            except (psycopg.OperationalError, psycopg.InterfaceError) as e:
                self.stats.pg_retries += 1
                self.stats.last_error = f"postgres: {str(e).strip()[:200]}"
                if not warned:
                    _log.warning(
                        "recorder: PostgreSQL unavailable, holding %d messages unacked: %s", len(msgs), e
                    )
                    warned = True
                if stream in self.writers:
                    self.writers[stream].close()
                self.audit.close()
                if self._stop.is_set():
                    raise
                if time.monotonic() - last_progress > self.bus.ack_wait_s / 3:
                    for m in msgs:
                        with contextlib.suppress(Exception):
                            await m.in_progress()
                    last_progress = time.monotonic()
                await asyncio.sleep(self.store.reconnect_s)


def stream_names_for(bus: bus_settings.Settings, kinds: tuple[str, ...]) -> list[str]:
    """Stream names of some kinds on every configured exchange (e.g. only orders and fills)."""
    out = [subjects.stream_name(k, ex) for ex in bus.exchanges for k in kinds if k != "audit"]
    if "audit" in kinds:
        out.append(subjects.AUDIT_STREAM)
    return out
