"""Connector room: one venue connector process's parts wired together (rings, REST, streams, stats).
Venue-neutral: the venue is an adapter from the registry (oms/venues/registry.py).

Touches the connector's rings (commands in, exec events and market data out), the BBO table (its
instruments' rows), the venue (REST + WebSockets), its journal file, and its stats file / the
monitor's /ingest. `oms/procs/connector.py` only parses arguments, pins, and calls `serve()`.

Start: rings and table opened (created when missing), clock synced, the venue's rate limits loaded,
then per market the user data stream (whose every (re)connect triggers reconciliation) and the depth
streams; then commands flow. Stop (SIGTERM): no new commands, in-flight requests get
`shutdown_grace_s` to finish, open orders are cancelled when `cancel_on_shutdown`, streams closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
from collections.abc import Callable
from dataclasses import fields
from typing import Any

import aiohttp
import numpy as np

from oms import log
from oms.config.model import OmsConfig
from oms.conn import settings as CS
from oms.conn.backoff import Backoff
from oms.conn.executor import Executor
from oms.conn.health import Health, HealthState
from oms.conn.instruments import Instruments
from oms.conn.journal import Journal
from oms.conn.marketdata import MarketData
from oms.conn.pump import CommandPump, RingWriter
from oms.conn.reconcile import Reconciler
from oms.conn.rest import VenueRest, limits_from_config
from oms.conn.userstream import UserStream
from oms.errors import ConfigError, OmsError
from oms.shm import names
from oms.shm import records as R
from oms.shm.ring import open_ring
from oms.shm.table import BboTable
from oms.venues.interface import VenueAdapter

_log = log.get(__name__)
Creds = Callable[[], tuple[int, str, str]]


def open_bbo(prefix: str, rows: int) -> BboTable | None:
    """Attach (as it is, even when its creator is gone: readers such as the engine stay attached to this
    segment, so it is never replaced), or create when missing."""
    name = names.bbo_table(prefix)
    try:
        return BboTable.attach(name, allow_stale=True, timeout=0.05)
    except OmsError:
        pass
    try:
        return BboTable.create(name, rows)
    except OmsError:
        pass
    try:
        return BboTable.attach(name, allow_stale=True, timeout=1.0)
    except OmsError as e:
        _log.warning("BBO table unavailable (%s); BBO goes to the market data ring only", e)
        return None


def credentials(cfg: OmsConfig, exchange: str) -> tuple[Creds, Any]:
    """(creds(), holder) from the secrets store entry the exchange file names; (public, None) if absent."""
    x = cfg.exchanges[exchange]
    name = x.credentials.key
    if not name:
        if x.credentials.required:
            raise ConfigError(f"exchanges/{exchange}.toml: credentials.key is empty but required = true")
        return (lambda: (0, "", "")), None
    try:
        from oms.secrets.holder import ClientHolder
        from oms.secrets.store import open_store

        st = cfg.section("secrets")
        store = open_store(st, base_dir=cfg.root)

        def make(c: Any) -> tuple[int, str, str]:
            secret = c.secret.reveal()
            log.redact(secret)  # every version's secret is scrubbed from logs, not only the first
            return (c.version, c.api_key, secret)

        holder = ClientHolder(store, name, make, interval=st.watch_interval_s)
    except OmsError as e:
        if x.credentials.required:
            raise ConfigError(
                f"exchanges/{exchange}.toml: credentials.key = {name!r} could not be read from the "
                f"[secrets] store ({e}); add it with `oms keys add {name}` or set required = false"
            ) from None
        _log.warning("%s: no credentials (%s); market data only", exchange, e)
        return (lambda: (0, "", "")), None
    return (lambda: holder.client), holder


def exchange_files(cfg: OmsConfig, venue: str, markets: list[str]) -> dict[str, Any]:
    """market → exchange file for this venue: files are found by their `venue` and `market` keys (so
    `<venue>_swap.toml` with market = "swap" is found), not by a file-name pattern."""
    out = {m: x for m in markets for x in cfg.exchanges.values() if x.venue == venue and x.market == m}
    missing = [m for m in markets if m not in out]
    if missing:
        have = sorted(f"{x.venue}/{x.market}" for x in cfg.exchanges.values() if x.venue == venue)
        raise ConfigError(
            f"[connector] markets lists {missing} for venue {venue!r} but configs/exchanges/ has no file "
            f"with venue = {venue!r} and market = that (files for {venue}: {', '.join(have) or 'none'}); "
            "copy configs/exchanges/_template.toml"
        )
    return out


class ConnectorService:
    def __init__(
        self,
        cfg: OmsConfig,
        st: CS.Settings,
        adapter: VenueAdapter,
        prefix: str,
        instruments: Instruments,
        creds: Creds,
        holder: Any = None,
    ) -> None:
        venue = adapter.name
        self.adapter = adapter
        self.cfg, self.st, self.venue, self.prefix = cfg, st, venue, prefix
        wanted = [m for m in (st.markets or list(adapter.markets))]
        bad = [m for m in wanted if m not in adapter.markets]
        if bad:
            raise ConfigError(
                f"[connector] markets {bad} are not markets of {venue} (it has {', '.join(adapter.markets)})"
            )
        self.x = exchange_files(cfg, venue, wanted)
        self.markets = tuple(wanted)
        self.instruments = instruments
        self.holder = holder
        self.has_keys = bool(creds()[1])
        rw = st.recv_window_ms or max(x.recv_window_ms for x in self.x.values())
        transport = adapter.transport(creds, {m: x.rest_url for m, x in self.x.items()}, rw)
        self.rest = VenueRest(
            adapter,
            transport,
            self.markets,
            recv_window_ms=rw,
            timeout_s=st.request_timeout_s,
            max_inflight=st.max_inflight,
            rate_safety=st.rate_safety,
            max_order_wait_s=st.max_order_wait_s,
        )
        self.cmd = open_ring(
            names.engine_commands_to_venue(venue, prefix), R.COMMAND, st.ring_capacity, producer=False
        )
        self.exec = open_ring(
            names.venue_exec_events(venue, prefix), R.EVENT, st.ring_capacity, producer=True
        )
        self.md = open_ring(names.venue_market_data(venue, prefix), R.MARKET, st.ring_capacity, producer=True)
        self.bbo = open_bbo(prefix, st.bbo_rows)
        self.exec_w = RingWriter(self.exec)
        self.md_w = RingWriter(self.md)
        jdir = cfg.resolve_path(st.journal_dir)
        self.journal = Journal(jdir / f"conn-{venue}.journal", keep_s=st.reconcile_lookback_s)
        self.ex = Executor(
            adapter, self.rest, instruments, self.journal, self.exec_w.write, markets=self.markets
        )
        self.recon = Reconciler(self.ex, on_unknown=st.on_unknown_order, lookback_s=st.reconcile_lookback_s)
        self.health = HealthState(venue)
        self.health.listeners.append(lambda h: _log.info("health %s: %s", h.state.name, h.reason))
        self.pump = CommandPump(self.cmd, batch=st.batch, max_sleep_s=0.0005, idle_sleep_s=0.002)
        self.user: dict[str, UserStream] = {}
        self.mdata: dict[str, MarketData] = {}
        self._stop = asyncio.Event()
        self.stats_path = cfg.resolve_path(st.stats_path.format(venue=venue))
        self._md_ok: dict[str, bool] = {}
        self._us_ok: dict[str, bool] = {}
        self._closed = False

    # ---- health ------------------------------------------------------------------------------------
    def _on_user(self, market: str, up: bool) -> None:
        self._us_ok[market] = up
        self.health.reconnects = sum(u.stats.reconnects for u in self.user.values())
        self._eval()

    def _on_md(self, market: str, ok: bool) -> None:
        self._md_ok[market] = ok
        self._eval()

    def _eval(self) -> None:
        us = all(self._us_ok.get(m, False) for m in self.user) if self.has_keys else True
        md = all(self._md_ok.get(m, False) for m in self.mdata) if self.mdata else True
        low = any(b.headroom() < 0.1 for b in self.rest.budgets.values())
        self.health.update(
            user_stream_ok=us,
            market_data_ok=md,
            budget_low=low,
            recent_errors=self.rest.recent_errors(),
        )

    # ---- run ---------------------------------------------------------------------------------------
    async def start(self) -> None:
        for m in self.markets:
            for attempt in range(60):
                try:
                    await self.rest.sync_clock(m)
                    break
                except OmsError as e:
                    _log.warning("%s: venue unreachable (%s); retrying", m, e)
                    await asyncio.sleep(min(0.2 * 2**attempt, 5.0))
            else:
                raise OmsError(f"{self.venue} {m}: REST never answered at {self.x[m].rest_url}")
            fallback = limits_from_config(self.x[m].rate_limits, self.adapter.limit_header)
            limits = await self.rest.load_limits(m, fallback)
            self.rest.setup_budget(m, limits)
        self.health.update(rest_ok=True)

    async def serve(self) -> int:
        st = self.st
        await self.start()
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=st.request_timeout_s)
        tasks: list[asyncio.Task] = []
        async with aiohttp.ClientSession(timeout=timeout) as session:
            for m in self.markets:
                bo = Backoff(st.reconnect_base_s, st.reconnect_cap_s)
                if self.has_keys:
                    us = UserStream(
                        self.adapter,
                        m,
                        self.rest,
                        self.x[m].ws_url,
                        self.ex.on_report,
                        self._on_connected,
                        self._on_user,
                        keepalive_s=st.listen_key_keepalive_s,
                        heartbeat_s=st.ws_heartbeat_s,
                        backoff=bo,
                    )
                    self.user[m] = us
                    tasks.append(asyncio.create_task(us.run(session)))
                insts = [
                    i
                    for i in self.instruments.of_market(m)
                    if i.symbol in set(self.x[m].symbols) or not self.x[m].symbols
                ]
                if st.market_data and insts:
                    md = MarketData(
                        self.adapter,
                        m,
                        self.rest,
                        self.x[m].ws_url,
                        insts,
                        self.md_w.write_nowait,
                        self.bbo.write if self.bbo else None,
                        self._on_md,
                        depth_levels=st.depth_levels,
                        heartbeat_s=st.ws_heartbeat_s,
                        backoff=Backoff(st.reconnect_base_s, st.reconnect_cap_s),
                    )
                    self.mdata[m] = md
                    tasks.append(asyncio.create_task(md.run(session)))
            self._eval()
            tasks.append(asyncio.create_task(self._stats_loop(session)))
            tasks.append(asyncio.create_task(self._clock_loop()))
            if st.reconcile_interval_s > 0:
                tasks.append(asyncio.create_task(self._periodic_recon()))
            print("CONNECTOR READY", flush=True)
            cmd_task = asyncio.create_task(self._commands())
            await self._stop.wait()
            _log.info("stopping: %d requests in flight", len(self.ex.tasks))
            self.pump.stop()
            with contextlib.suppress(asyncio.CancelledError):
                await cmd_task
            await self._drain(st.shutdown_grace_s)
            if st.cancel_on_shutdown:
                await self._cancel_open()
            for us in self.user.values():
                await us.stop()
            for md in self.mdata.values():
                await md.stop()
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            self.write_stats()
        await self.close()
        return 0

    async def _on_connected(self, market: str) -> None:
        """A user data stream (re)connected: reconcile orders, then let the adapter report what else the
        venue holds for the engine (e.g. leverage and margin settings of each served symbol)."""
        await self.recon.run(market)
        try:
            syms = set(self.x[market].symbols) or None
            await self.adapter.execution.after_connect(
                self.rest, market, self.instruments, self.ex.emit, syms
            )
        except OmsError as e:
            _log.warning("%s: venue settings not read (%s); the next reconnect retries", market, e)

    async def _commands(self) -> None:
        last_beat = 0.0
        async for batch in self.pump.batches():
            self.ex.dispatch(batch)
            now = time.monotonic()
            if now - last_beat > 0.1:
                last_beat = now
                self.exec.heartbeat()
                self.md.heartbeat()

    async def _drain(self, grace: float) -> None:
        if self.ex.tasks:
            _done, pending = await asyncio.wait(list(self.ex.tasks), timeout=grace)
            if pending:
                _log.warning(
                    "%d requests still in flight after %.0fs; their outcome is left to the next "
                    "start's reconciliation",
                    len(pending),
                    grace,
                )

    async def _cancel_open(self) -> None:
        opens = self.journal.open_orders()
        _log.info("cancelling %d open orders before exit", len(opens))
        await asyncio.wait_for(
            asyncio.gather(*(self.ex.locked_cancel(t) for t in opens), return_exceptions=True),
            self.st.shutdown_grace_s,
        )

    async def _clock_loop(self, every_s: float = 30.0) -> None:
        """Track the venue clock (a fresh /time sample every `every_s`), which doubles as the REST
        liveness probe: a market whose /time fails makes the venue DOWN until it answers again."""
        while True:
            await asyncio.sleep(every_s)
            ok = True
            for m in self.markets:
                try:
                    await self.rest.sync_clock(m, force=True)
                except OmsError as e:
                    ok = False
                    _log.warning("%s: clock probe failed (%s)", m, e)
            self.health.update(rest_ok=ok)

    async def _periodic_recon(self) -> None:
        while True:
            await asyncio.sleep(self.st.reconcile_interval_s)
            for m in self.user:
                await self.recon.run(m)

    def stop(self) -> None:
        self._stop.set()

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        await self.rest.close()
        self.journal.close()
        if self.holder is not None:
            self.holder.stop()
        for r in (self.cmd, self.exec, self.md):
            r.close()
        if self.bbo is not None:
            self.bbo.close()

    # ---- stats -------------------------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        rs = self.rest.stats
        lat = np.fromiter(self.ex.ack_ns, dtype=np.int64)
        return {
            "venue": self.venue,
            "pid": os.getpid(),
            "ts": time.time(),
            "health": self.health.as_dict(),
            "rate_budget": {m: b.snapshot() for m, b in self.rest.budgets.items()},
            "clock_offset_ms": {m: c.offset_ms for m, c in self.rest.clocks.items()},
            "rest": _fields(rs),
            "ack_latency_us": {
                "n": int(lat.size),
                "p50": float(np.percentile(lat, 50)) / 1000 if lat.size else 0.0,
                "p99": float(np.percentile(lat, 99)) / 1000 if lat.size else 0.0,
            },
            "orders": dict(self.ex.counts),
            "open_orders": len(self.journal.open_orders()),
            "user_streams": {m: _fields(u.stats) for m, u in self.user.items()},
            "market_data": {m: {**_fields(d.stats), "synced": d.synced} for m, d in self.mdata.items()},
            "reconcile": _fields(self.recon.stats),
            "rings": {
                "cmd_depth": self.cmd.depth(),
                "exec_full_stalls": self.exec_w.stats.full_stalls,
                "md_drops": sum(d.stats.ring_drops for d in self.mdata.values()),
            },
            "key_version": getattr(self.holder, "version", 0),
        }

    def write_stats(self) -> None:
        snap = self.snapshot()
        self.stats_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.stats_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(snap, default=str))
        os.replace(tmp, self.stats_path)

    async def _stats_loop(self, session: aiohttp.ClientSession) -> None:
        feed = None
        if self.st.monitor_url:
            from oms.monitor.feed import StatsFeed, http_publisher

            feed = StatsFeed(f"conn-{self.venue}", http_publisher(self.st.monitor_url, session))
        while True:
            await asyncio.sleep(self.st.stats_interval_s)
            self._eval()
            try:
                self.write_stats()
            except OSError as e:
                _log.warning("stats file %s: %s", self.stats_path, e)
            if feed is not None:
                self._feed(feed)
                try:
                    await feed.flush()
                except Exception as e:  # the monitor being down must not stop the connector
                    _log.debug("monitor ingest failed: %s", e)

    def _feed(self, feed: Any) -> None:
        from oms.monitor.frames import VenueReport

        for m in self.markets:
            b = self.rest.budgets.get(m)
            snap = b.snapshot() if b else {"limits": []}
            w = [r for r in snap["limits"] if r["kind"] == "weight"]
            state = {Health.UP: "up", Health.DEGRADED: "degraded", Health.DOWN: "down"}[self.health.state]
            feed.set_venue(
                VenueReport(
                    exchange=f"{self.venue}_{m}",
                    state=state,
                    reason=self.health.reason,
                    reconnects=self.user[m].stats.reconnects if m in self.user else 0,
                    rate_limit_used=float(w[0]["used"]) if w else 0.0,
                    rate_limit_max=float(w[0]["limit"]) if w else 0.0,
                    recon_drift_orders=self.recon.stats.drift_orders,
                    recon_drift_lots=self.recon.stats.drift_lots,
                )
            )
        for ns in self.ex.take_new_acks():
            feed.record_latency("venue_ack", f"{self.venue}", ns)
        feed.set_ring_drops(self.exec.name, self.exec.full_count())
        feed.set_ring_drops(self.md.name, sum(d.stats.ring_drops for d in self.mdata.values()))


def _fields(obj: Any) -> dict[str, Any]:
    """A dataclass's fields, one level deep (dicts copied): cheap enough for a loop that runs every second."""
    return {f.name: (dict(v) if isinstance(v := getattr(obj, f.name), dict) else v) for f in fields(obj)}
