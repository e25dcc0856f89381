"""Procs room: the `monitor` program (a supervisord program): Prometheus exporter, health, alerts.

Only wiring: loads `[monitor]` from the config (oms.config), builds a `MonitorServer`
(oms/monitor/server.py) with a ring watcher over the stack's rings, subscribes to NATS when a URL is
given, and runs until SIGTERM/SIGINT. Touches its HTTP port, NATS, /dev/shm (read-only) and webhooks.

    python -m oms.procs.monitor [--config configs/oms.toml] [--port 9464] [--nats-url nats://...]
                                [--prefix oms] [--venues binance,bybit]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
from pathlib import Path

import msgspec

from oms import log
from oms.errors import ConfigError, OmsError
from oms.monitor.probe import targets
from oms.monitor.rings import RingWatcher, stack_rings
from oms.monitor.server import MonitorServer
from oms.monitor.settings import SECTION, Settings, validate
from oms.monitor.system import SystemSampler, supervisor_pids

_log = log.get(__name__)


def load_settings(config: str | None) -> tuple[Settings, dict[str, str], str, str]:
    """`[monitor]`, {exchange: rest_url} of the enabled exchanges, the absolute stats glob and the
    absolute supervisord socket path."""
    from oms.config import load

    cfg = load(config)
    exchanges = {name: x.rest_url for name, x in cfg.enabled_exchanges().items()}
    settings = cfg.section(SECTION)
    stats_glob = str(cfg.resolve_path(settings.conn_stats_glob)) if settings.conn_stats_glob else ""
    sock = str(cfg.resolve_path(settings.supervisor_socket)) if settings.supervisor_socket else ""
    return settings, exchanges, stats_glob, sock


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="oms.procs.monitor", description=__doc__.splitlines()[0])
    p.add_argument("--config", default=os.environ.get("OMS_CONFIG"), help="path to oms.toml")
    p.add_argument("--port", type=int, default=None, help="override [monitor].port")
    p.add_argument("--nats-url", default=os.environ.get("OMS_NATS_URL", ""), help="NATS for stats frames")
    p.add_argument("--prefix", default=os.environ.get("OMS_SHM_PREFIX", "oms"), help="shm ring prefix")
    p.add_argument("--venues", default="binance", help="comma-separated venues whose rings to watch")
    p.add_argument(
        "--nats-monitor-url",
        default=os.environ.get("OMS_NATS_MONITOR_URL"),
        help="nats-server monitoring port, http://127.0.0.1:PORT (overrides [monitor].nats_monitor_url)",
    )
    return p.parse_args(argv)


async def serve(args: argparse.Namespace) -> None:
    settings, exchanges, stats_glob, sock = load_settings(args.config)
    if args.port is not None:
        settings = msgspec.structs.replace(settings, port=args.port)
    if args.nats_monitor_url is not None:
        settings = msgspec.structs.replace(settings, nats_monitor_url=args.nats_monitor_url)
    problems = validate(settings)
    if problems:
        raise ConfigError("; ".join(f"[monitor].{k} = {v!r} {why}" for k, v, why in problems))
    venues = [v for v in args.venues.split(",") if v]
    if not settings.exchanges:  # /health covers the enabled exchanges even before anything reports
        settings = msgspec.structs.replace(settings, exchanges=sorted(exchanges))
    probe_targets, skipped = targets(exchanges, settings.probe_remote)
    for note in skipped:
        _log.info("venue probe skipped: %s", note)
    rings = RingWatcher(stack_rings(args.prefix, venues))
    if sock and os.environ.get("OMS_RUN_DIR"):  # under `oms up`: the stack's own supervisord socket
        sock = str(Path(os.environ["OMS_RUN_DIR"]) / "supervisor.sock")
    pids = supervisor_pids(Path(sock)) if sock else None
    system = SystemSampler(pids, settings.nats_monitor_url)
    server = MonitorServer(settings, rings, args.nats_url, probe_targets, stats_glob, system)
    await server.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await server.stop()
        _log.info("monitor stopped")


def main(argv: list[str] | None = None) -> int:
    log.setup(json_lines=os.environ.get("OMS_JSON_LOGS") == "1")
    args = parse_args(argv)
    try:
        asyncio.run(serve(args))
    except OmsError as e:
        print(f"monitor: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    with contextlib.suppress(BrokenPipeError):
        raise SystemExit(main())
