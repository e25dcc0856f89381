"""Monitor room: the monitor's HTTP face and background loops (aiohttp), wired by oms/procs/monitor.py.

Touches: its listen socket (loopback by default), the NATS subject `<stats_subject>.>` when a NATS URL
is given, /dev/shm rings through `RingWatcher` (read-only), the alert webhooks, and through
`SystemSampler` /proc (psutil) and nats-server's loopback monitoring port (/varz, /jsz).

| route                 | answer                                                               |
|-----------------------|----------------------------------------------------------------------|
| GET  /metrics         | Prometheus text format 0.0.4                                         |
| GET  /health          | JSON; 200 ok/degraded, 503 when every exchange is down              |
| GET  /health/{exch}   | JSON; 200 up/degraded, 503 down, 404 unknown (lists known); a venue  |
|                       | name = worst of its markets, each under `markets`                    |
| GET  /api/summary     | JSON for `oms top`                                                   |
| POST /ingest          | msgpack StatsFrame → 204, or 400 naming the bad field                |

With a NATS URL it also subscribes to `[monitor].event_subjects` (default orders.>, fills.>, risk.>)
and counts the EVENT records in the bridge's OMSF frames, so order/fill/reject counters need no extra
code in the engine; frames re-sent by the bridge carry the same Nats-Msg-Id and are counted once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass, field

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from oms import log
from oms.errors import OmsError
from oms.monitor.alerts import AlertSender
from oms.monitor.connstats import read_all
from oms.monitor.exposition import registry_for, render
from oms.monitor.frames import FrameError, decode
from oms.monitor.probe import Target, run_probes
from oms.monitor.rings import RingWatcher
from oms.monitor.settings import Settings
from oms.monitor.state import MonitorState
from oms.monitor.system import SystemSampler

_log = log.get(__name__)


def _json(status: int, body: object) -> web.Response:
    return web.Response(status=status, text=json.dumps(body, default=str), content_type="application/json")


@dataclass
class MonitorServer:
    settings: Settings
    rings: RingWatcher | None = None
    nats_url: str = ""
    probe_targets: list[Target] = field(default_factory=list)
    conn_stats_glob: str = ""  # absolute glob of connector stats snapshots (oms/monitor/connstats.py)
    system: SystemSampler | None = None  # CPU per core/program, RSS, NATS /varz + /jsz (system.py)
    state: MonitorState = field(init=False)
    alerts: AlertSender = field(init=False)
    port: int = 0
    _runner: web.AppRunner | None = None
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _nc: object | None = None
    _seen_ids: dict[str, None] = field(default_factory=dict)  # recent Nats-Msg-Ids (insertion-ordered)
    _alert_task: asyncio.Task[None] | None = None

    def __post_init__(self) -> None:
        s = self.settings
        self.state = MonitorState(s)
        self.state.system = self.system
        self.alerts = AlertSender.from_urls(s.slack_webhook_url, s.discord_webhook_url, s.alert_timeout_s)
        self.registry = registry_for(self.state)

    # ---- HTTP ---------------------------------------------------------------------------------
    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/health", self._health)
        app.router.add_get("/health/{exchange}", self._health_one)
        app.router.add_get("/api/summary", self._summary)
        app.router.add_post("/ingest", self._ingest)
        return app

    async def _metrics(self, _: web.Request) -> web.Response:
        return web.Response(body=render(self.registry), headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def _health(self, _: web.Request) -> web.Response:
        return _json(*self.state.health())

    async def _health_one(self, req: web.Request) -> web.Response:
        return _json(*self.state.exchange_health(req.match_info["exchange"]))

    async def _summary(self, _: web.Request) -> web.Response:
        return _json(200, self.state.summary())

    async def _ingest(self, req: web.Request) -> web.Response:
        data = await req.read()
        try:
            self.state.apply(decode(data))
        except FrameError as e:
            self.state.frame_errors += 1
            return _json(400, {"error": str(e)})
        self._kick_alerts()
        return web.Response(status=204)

    async def _on_bus_events(self, msg: object) -> None:
        """EVENT frames the bridge publishes to JetStream (oms.bus.frames), de-duplicated by Nats-Msg-Id."""
        from oms.bus.frames import decode as decode_frame
        from oms.shm.records import EVENT

        msg_id = (getattr(msg, "headers", None) or {}).get("Nats-Msg-Id")
        if msg_id:
            if msg_id in self._seen_ids:
                return
            self._seen_ids[msg_id] = None
            while len(self._seen_ids) > 20_000:
                self._seen_ids.pop(next(iter(self._seen_ids)))
        try:
            _, recs = decode_frame(msg.data)  # type: ignore[attr-defined]
        except OmsError as e:
            self.state.frame_errors += 1
            _log.warning("bad event frame on %s: %s", getattr(msg, "subject", "?"), e)
            return
        if recs.dtype == EVENT:
            self.state.count_events(recs)

    async def _on_nats(self, msg: object) -> None:
        try:
            self.state.apply(decode(msg.data))  # type: ignore[attr-defined]
        except FrameError as e:
            self.state.frame_errors += 1
            _log.warning("%s (subject %s)", e, getattr(msg, "subject", "?"))
        self._kick_alerts()

    def _kick_alerts(self) -> None:
        """Producers' alerts (StatsFrame.alerts) out to the webhooks from one task, in arrival order, so a
        slow webhook never holds up frame ingestion."""
        if self.state.pending_alerts and (self._alert_task is None or self._alert_task.done()):
            self._alert_task = asyncio.get_running_loop().create_task(self._send_pending())

    async def _send_pending(self) -> None:
        while self.state.pending_alerts:
            await self.alerts.send_text(self.state.pending_alerts.pop(0))

    # ---- lifecycle ----------------------------------------------------------------------------
    async def start(self) -> None:
        self._runner = web.AppRunner(self.app(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.settings.host, self.settings.port)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        if self.nats_url:
            import nats

            from oms.credentials import nats_options

            self._nc = await nats.connect(
                self.nats_url.split(","),
                name="oms-monitor",
                max_reconnect_attempts=-1,
                **nats_options(self.nats_url),
            )
            await self._nc.subscribe(f"{self.settings.stats_subject}.>", cb=self._on_nats)  # type: ignore[attr-defined]
            for subj in self.settings.event_subjects:
                await self._nc.subscribe(subj, cb=self._on_bus_events)  # type: ignore[attr-defined]
        self._tasks = [asyncio.create_task(self._anomaly_loop())]
        if self.rings is not None:
            self._tasks.append(asyncio.create_task(self._ring_loop()))
        s = self.settings
        if self.conn_stats_glob:
            self._tasks.append(asyncio.create_task(self._conn_stats_loop()))
        if self.system is not None:
            self._tasks.append(asyncio.create_task(self._system_loop()))
        if self.probe_targets and s.probe_interval_s > 0:
            self._tasks.append(
                asyncio.create_task(
                    run_probes(
                        self.state, self.probe_targets, s.probe_interval_s, s.probe_timeout_s, s.probe_slow_s
                    )
                )
            )
        _log.info("monitor listening on http://%s:%d", self.settings.host, self.port)

    async def _anomaly_loop(self) -> None:
        while True:
            await asyncio.sleep(self.settings.anomaly_window_s)
            for anomaly, unit in self.state.anomaly_tick():
                await self.alerts.send(anomaly, unit)

    async def _ring_loop(self) -> None:
        assert self.rings is not None
        while True:
            self.state.set_rings(await asyncio.to_thread(self.rings.poll))
            await asyncio.sleep(self.settings.ring_poll_s)

    async def _system_loop(self) -> None:
        assert self.system is not None
        while True:
            await asyncio.to_thread(self.system.poll)
            await asyncio.sleep(self.settings.ring_poll_s)

    async def _conn_stats_loop(self) -> None:
        s = self.settings
        while True:
            frames, _ = await asyncio.to_thread(read_all, self.conn_stats_glob, s.stale_after_s)
            for f in frames:
                self.state.apply(f)
            await asyncio.sleep(s.ring_poll_s)

    async def stop(self) -> None:
        if self._alert_task is not None and not self._alert_task.done():
            with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(self._alert_task, self.settings.alert_timeout_s)
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await t
        self._tasks = []
        if self._nc is not None:
            await self._nc.close()  # type: ignore[attr-defined]
            self._nc = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self.rings is not None:
            self.rings.close()
        await self.alerts.close()
