"""Procs room, gateway program: the gRPC front door (TLS 1.3, auth, RBAC, rate limits) on the engine rings.

Only wiring: loads `[gateway]` and `[node].shm_prefix` from the config (oms.config), resolves relative
paths against the config root, picks the instrument registry (the venues room's when importable, else
the built-in demo table, logged), attaches the BBO table when marketdata runs, builds
`oms.api.server.Gateway` and runs until SIGTERM/SIGINT. Touches its TLS port, a loopback backend port,
the gateway<->engine rings, the BBO table (read), the token file and the audit file.

    python -m oms.procs.gateway [--config configs/oms.toml] [--port 50051] [--prefix oms]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from typing import Any

import msgspec

from oms import log
from oms.api.instruments import demo_registry
from oms.api.server import Gateway
from oms.api.settings import SECTION, Settings, validate
from oms.errors import ConfigError, OmsError

_log = log.get(__name__)


def load(config: str | None) -> tuple[Settings, str, Any]:
    """([gateway] settings with absolute paths, shm prefix, config or None)."""
    from oms.config import load as load_config

    cfg = load_config(config)
    s: Settings = cfg.section(SECTION)
    paths = {k: str(cfg.resolve_path(getattr(s, k))) for k in ("cert", "key", "tokens_file", "audit_file")}
    if s.client_ca:
        paths["client_ca"] = str(cfg.resolve_path(s.client_ca))
    return msgspec.structs.replace(s, **paths), cfg.node.shm_prefix, cfg


def instruments(path: str) -> tuple[Any, Any]:
    """(registry, reload) — the venues room's shared registry file (same ids as the engine's; the stack
    fills it from the venues after start, so the gateway re-reads it when it meets an unknown symbol),
    or the built-in demo table when that module is missing (logged)."""
    try:
        from oms.venues.instruments import InstrumentRegistry
    except ImportError:
        _log.warning("oms.venues.instruments is not available: using the built-in demo instrument table")
        return demo_registry(), None

    def reload() -> Any:
        return InstrumentRegistry.open(path)

    reg = reload()
    if not len(reg):
        _log.info("instrument registry %s is empty for now; it is re-read when a symbol is unknown", path)
    return reg, reload


def engine_event_log(cfg: Any) -> str:
    """The engine's write-ahead log path ([risk].event_log), for rebuilding the views at start."""
    from oms.engine import settings as ES

    try:
        st = cfg.section(ES.SECTION)
    except (OmsError, KeyError) as e:
        _log.info("no engine settings (%s): views start empty", e)
        return ""
    return str(cfg.resolve_path(st.event_log)) if st.event_log else ""


def bbo_table(prefix: str) -> Any:
    try:
        from oms.shm.names import bbo_table as name
        from oms.shm.table import BboTable

        # stale = its writer (the connector) is down: still the table it re-attaches to on restart
        return BboTable.attach(name(prefix), allow_stale=True, timeout=0.1)
    except OmsError as e:
        _log.info("no BBO table yet (%s); GetBbo answers UNAVAILABLE until marketdata runs", e)
        return None


def alert_path(cfg: Any) -> Any:
    """The gateway's alerts (token lockouts): an ERROR log line, and the monitor room's Slack/Discord
    webhooks when `[monitor]` configures them (delivered in the background, best effort)."""
    try:
        from oms.monitor.alerts import AlertSender
        from oms.monitor.settings import SECTION as MONITOR

        mon = cfg.section(MONITOR)
        sender = AlertSender.from_urls(mon.slack_webhook_url, mon.discord_webhook_url)
    except Exception as e:  # no [monitor] section or no webhook support: the log line still goes out
        _log.info("gateway alerts go to the log only (%s)", type(e).__name__)
        sender = None
    tasks: set[asyncio.Task[None]] = set()

    def alert(text: str) -> None:
        _log.error("ALERT %s", text)
        if sender is not None and sender.sinks:
            t = asyncio.get_running_loop().create_task(sender.send_text(f"OMS gateway: {text}"))
            tasks.add(t)
            t.add_done_callback(tasks.discard)

    return alert


async def serve(args: argparse.Namespace) -> None:
    settings, prefix, cfg = load(args.config)
    if args.port is not None:
        settings = msgspec.structs.replace(settings, port=args.port)
    prefix = args.prefix or prefix
    problems = validate(settings)
    if problems:
        raise ConfigError("; ".join(f"[gateway].{k} = {v!r} {why}" for k, v, why in problems))
    reg_path = args.instruments or str(cfg.resolve_path(f"{cfg.node.var_dir}/instruments.json"))
    registry, reload = instruments(reg_path)
    gw = Gateway(
        settings,
        registry,
        prefix=prefix,
        bbo=bbo_table(prefix),
        reload_instruments=reload,
        event_log=engine_event_log(cfg),
    )
    gw.auth.alert = alert_path(cfg)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await gw.start()
    print(f"gateway ready port={gw.port} prefix={prefix}", flush=True)
    try:
        await stop.wait()
    finally:
        await gw.stop()
        _log.info("gateway stopped")


def main(argv: list[str] | None = None) -> int:
    log.setup(json_lines=os.environ.get("OMS_JSON_LOGS") == "1")
    p = argparse.ArgumentParser(prog="oms.procs.gateway", description=__doc__.splitlines()[0])
    p.add_argument("--config", default=os.environ.get("OMS_CONFIG"), help="path to oms.toml")
    p.add_argument("--port", type=int, default=None, help="override [gateway].port (0 = any free port)")
    p.add_argument("--prefix", default=os.environ.get("OMS_SHM_PREFIX"), help="override [node].shm_prefix")
    p.add_argument("--instruments", default=None, help="instrument registry (<root>/var/instruments.json)")
    args = p.parse_args(argv)
    try:
        asyncio.run(serve(args))
    except OmsError as e:
        print(f"gateway: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
