"""Process room: `marketdata`, the supervisord program pinned to core 3 (graceful on small machines).

Wiring only: config, pinning, instruments (the same loader as the engine), then the market-data
service (oms/marketdata): consumes every enabled connector's md ring, feeds the engine's md ring and
writes the BBO table. SIGTERM/SIGINT stop it cleanly.

usage: python -m oms.procs.marketdata [--config oms.toml] [--prefix P] [--venues binance,...]
                                      [--instruments instruments.toml] [--core N]
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading

from oms import ids, log, pinning
from oms.errors import OmsError
from oms.marketdata.service import MarketData, MdConfig

_log = log.get(__name__)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="oms.procs.marketdata", description=__doc__.splitlines()[0])
    p.add_argument("--config", default=os.environ.get("OMS_CONFIG"), help="path to oms.toml")
    p.add_argument("--prefix", default=None, help="shm prefix (default [node].shm_prefix)")
    p.add_argument("--venues", default="binance", help="comma-separated venues whose md rings to read")
    p.add_argument("--instruments", default=None, help="TOML file of [[instrument]] tables")
    p.add_argument("--core", type=int, default=None, help="override the core from the plan")
    p.add_argument("--min-edge-bp", type=float, default=1.0, help="arbitrage signal threshold (bp, net)")
    return p.parse_args(argv)


def build(args: argparse.Namespace) -> MarketData:
    from oms.config import load
    from oms.engine.instruments import load_instruments

    cfg = load(args.config)
    prefix = args.prefix or cfg.node.shm_prefix
    venues = [v for v in args.venues.split(",") if v]
    for v in venues:
        ids.venue_id(v)
    core = args.core
    if core is None:
        core = (
            pinning.plan(cfg.core_map())
            .get("marketdata", pinning.Placement("marketdata", None, None, False))
            .core
        )
    pinning.pin_self(core)
    specs = load_instruments(args.instruments)
    return MarketData(specs, venues, prefix=prefix, cfg=MdConfig(min_edge_bp=args.min_edge_bp))


def main(argv: list[str] | None = None) -> int:
    log.setup(json_lines=os.environ.get("OMS_JSON_LOGS") == "1")
    args = parse_args(argv)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    try:
        md = build(args)
    except OmsError as e:
        print(f"marketdata: {e}", file=sys.stderr)
        return 2
    md.start()
    _log.info("marketdata running: venues=%s", ",".join(md.inputs))
    print("MARKETDATA READY", flush=True)
    try:
        while not stop.wait(1.0):
            if md.error is not None:
                print(f"marketdata: loop failed: {md.error}", file=sys.stderr)
                return 1
    finally:
        md.close()
        _log.info("marketdata stopped: %s", md.stats())
    return 0


if __name__ == "__main__":
    sys.exit(main())
