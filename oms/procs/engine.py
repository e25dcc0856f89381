"""Procs room: the `engine` program (a supervisord program, pinned to core 2 by default).

Only wiring: loads the config (`[risk]` = oms/engine/settings.py, `[node].shm_prefix`, the core plan),
pins itself (oms.pinning, graceful on small machines), builds the Engine (instruments from
`--instruments FILE` or the venues room's registry), replays its event log, runs the njit loop
(oms/engine/service.py) and stops cleanly on SIGTERM/SIGINT (loop stopped, journal flushed, rings
closed). Touches the engine's rings, the BBO table (read) and its event log file.

    python -m oms.procs.engine [--config configs/oms.toml] [--prefix oms] [--venues binance]
                               [--instruments instruments.toml] [--event-log PATH] [--core N]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import threading

from oms import ids, log, pinning
from oms.engine import settings as ES
from oms.engine.core import Engine
from oms.engine.instruments import load_instruments
from oms.engine.report import EngineReporter, PositionFeed
from oms.engine.service import EngineService
from oms.errors import OmsError

_log = log.get(__name__)


def caps_bits(cap: object) -> int:
    """oms.venues.interface.Capabilities -> engine capability bits (constants.CAP_*)."""
    from oms.engine import constants as C

    types = set(getattr(cap, "order_types", ()))
    bits = 0
    if getattr(cap, "native_stop", False):
        bits |= C.CAP_STOP_MARKET if "stop_market" in types or not types else 0
        bits |= C.CAP_STOP_LIMIT if "stop_limit" in types else 0
    if getattr(cap, "native_take_profit", False):
        bits |= C.CAP_TAKE_PROFIT
    if getattr(cap, "native_trailing", False):
        bits |= C.CAP_TRAILING_STOP
    if getattr(cap, "native_oco", False):
        bits |= C.CAP_OCO
    if getattr(cap, "native_modify", False):
        bits |= C.CAP_MODIFY
    if getattr(cap, "max_batch", 0):
        bits |= C.CAP_BATCH
    return bits


def venue_capabilities(venues: list[str], markets: dict[str, set[str]] | None = None) -> dict[int, int]:
    """Native capability bits per venue from its registered adapter's `capabilities` (data; a venue with
    no adapter yet: oms/venues/<venue>/capabilities.py). The engine keeps one row per venue, so a
    capability counts only when every traded market of the venue has it."""
    import importlib

    from oms.venues.registry import default_registry

    reg = default_registry()
    out: dict[int, int] = {}
    for v in venues:
        if v in reg.names():
            table = reg.get(v).capabilities
        else:
            try:
                mod = importlib.import_module(f"oms.venues.{v}.capabilities")
            except ImportError:
                continue
            table = getattr(mod, "CAPABILITIES", {})
        if not isinstance(table, dict) or not table:
            continue
        wanted = (markets or {}).get(v) or set(table)
        bits = -1
        for m in wanted:
            if m in table:
                bits &= caps_bits(table[m])
        out[ids.venue_id(v)] = max(bits, 0)
    return out


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="oms.procs.engine", description=__doc__.splitlines()[0])
    p.add_argument("--config", default=os.environ.get("OMS_CONFIG"), help="path to oms.toml")
    p.add_argument("--prefix", default=None, help="shm prefix (default [node].shm_prefix)")
    p.add_argument("--venues", default="binance", help="comma-separated venues with a connector ring pair")
    p.add_argument("--instruments", default=None, help="TOML file of [[instrument]] tables")
    p.add_argument("--registry", default=None, help="instrument registry JSON (default var/instruments.json)")
    p.add_argument("--event-log", default=None, help="engine event log (default [risk].event_log)")
    p.add_argument("--core", type=int, default=None, help="override the core from the plan")
    p.add_argument(
        "--nats-url",
        default=os.environ.get("OMS_NATS_URL"),
        help="publish positions/PnL/risk state to the monitor over NATS (default $OMS_NATS_URL)",
    )
    return p.parse_args(argv)


def build(args: argparse.Namespace) -> EngineService:
    from oms.config import load

    cfg = load(args.config)
    st: ES.Settings = cfg.section(ES.SECTION)
    prefix = args.prefix or cfg.node.shm_prefix
    venues = [v for v in args.venues.split(",") if v]
    for v in venues:
        ids.venue_id(v)
    core = args.core
    if core is None:
        core = pinning.plan(cfg.core_map()).get("engine", pinning.Placement("engine", None, None, False)).core
    pinning.pin_self(core)
    engine = Engine(
        capacity=st.order_capacity,
        n_accounts=st.n_accounts,
        n_instruments=st.n_instruments,
        trade_capacity=st.trade_capacity,
        journal=1 << 16,
    )
    specs = load_instruments(args.instruments, args.registry)
    for spec in specs:
        engine.add_instrument(spec)
    traded: dict[str, set[str]] = {}
    for spec in specs:
        traded.setdefault(ids.VENUE_NAMES.get(spec.venue, ""), set()).add(
            ids.MARKET_NAMES.get(spec.market, "")
        )
    engine.apply_settings(st, venue_capabilities(venues, traded))
    off = ES.off_limits(st)
    if off:
        _log.warning("risk limits OFF (0 in [risk]): %s", ", ".join(off))
    event_log = args.event_log if args.event_log is not None else st.event_log
    if event_log:
        event_log = str(cfg.resolve_path(event_log))
    svc = EngineService(
        engine, prefix, venues, ring_capacity=st.ring_capacity, batch=st.batch, event_log=event_log
    )
    return svc


def _reporter(args: argparse.Namespace, svc: EngineService) -> EngineReporter | None:
    """The monitor feed (positions, PnL, trading state) when a NATS URL is known."""
    if not args.nats_url:
        return None
    from oms.config import load

    prefix = "monitor.stats"
    with contextlib.suppress(OmsError, KeyError):
        prefix = load(args.config).section("monitor").stats_subject
    rep = EngineReporter(svc.engine, args.nats_url, prefix)
    rep.start()
    return rep


def _positions(args: argparse.Namespace, svc: EngineService) -> PositionFeed | None:
    """positions.{exchange}.{market}.{symbol} on every position change, when a NATS URL is known."""
    if not args.nats_url:
        return None
    feed = PositionFeed(svc.engine, args.nats_url)
    feed.start()
    return feed


def main(argv: list[str] | None = None) -> int:
    log.setup(json_lines=os.environ.get("OMS_JSON_LOGS") == "1")
    args = parse_args(argv)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    try:
        svc = build(args)
    except OmsError as e:
        print(f"engine: {e}", file=sys.stderr)
        return 2
    reporter: EngineReporter | None = None
    feed: PositionFeed | None = None
    try:
        n = svc.restore()
        svc.start()
        _log.info(
            "engine running: prefix=%s venues=%s replayed=%d events", svc.prefix, ",".join(svc.venues), n
        )
        print("ENGINE READY", flush=True)
        reporter = _reporter(args, svc)
        feed = _positions(args, svc)
        svc.serve(stop)
    except OmsError as e:
        print(f"engine: {e}", file=sys.stderr)
        return 1
    finally:
        if reporter is not None:
            reporter.stop()
        if feed is not None:
            feed.stop()
        svc.stop()
        if not svc.alive():
            svc.snapshot()
        svc.close()
        _log.info("engine stopped: %s", svc.engine.counters())
    return 0


if __name__ == "__main__":
    sys.exit(main())
