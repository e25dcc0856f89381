"""Procs room: the `conn-<venue>` program (supervisord), pinned to core 4 by default.

Only wiring: loads the config (`[connector]` = oms/conn/settings.py, the exchange files, `[secrets]`
for the API key), pins itself (oms.pinning; a machine without core 4 gets one warning and the best
mapping, never a crash), opens the rings and runs `oms.conn.service.ConnectorService` until SIGTERM /
SIGINT, which finish in-flight requests, optionally cancel open orders, and exit 0.

    python -m oms.procs.connector --venue VENUE [--config configs/oms.toml] [--prefix oms]
                                  [--instruments instruments.toml] [--core N]

Under `oms up` the prefix and core come from OMS_SHM_PREFIX / OMS_CORE, and without --instruments the
shared registry `<root>/var/instruments.json` (filled from the venue by the stack) is read, waiting
up to 60 s for it to be filled.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys

from oms import log, pinning
from oms.conn import settings as CS
from oms.conn.instruments import load as load_instruments
from oms.errors import ConfigError, OmsError

_log = log.get("oms.procs.connector")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="oms.procs.connector", description=__doc__.splitlines()[0])
    p.add_argument("--venue", required=True, help="registered venue to serve (see `oms venues`)")
    p.add_argument("--config", default=os.environ.get("OMS_CONFIG"), help="path to oms.toml")
    p.add_argument(
        "--prefix", default=os.environ.get("OMS_SHM_PREFIX"), help="shm prefix (default [node].shm_prefix)"
    )
    p.add_argument(
        "--instruments", default=None, help="TOML [[instrument]] file (default [connector].instruments)"
    )
    p.add_argument("--core", type=int, default=None, help="override the core from the plan")
    return p.parse_args(argv)


async def run(args: argparse.Namespace) -> int:
    from oms.config import load
    from oms.conn.service import ConnectorService, credentials, exchange_files
    from oms.venues.registry import default_registry

    adapter = default_registry().get(args.venue)
    cfg = load(args.config)
    st: CS.Settings = cfg.section(CS.SECTION)
    prefix = args.prefix or cfg.node.shm_prefix
    core = args.core
    env_core = os.environ.get("OMS_CORE")  # set by `oms up` from the core plan ("" = unpinned)
    if core is None and env_core is not None:
        core = int(env_core) if env_core.strip() else None
    elif core is None:
        plan = pinning.plan(cfg.core_map())
        place = plan.get(f"conn-{args.venue}")
        core = place.core if place else None
    pinning.pin_self(core)
    path = args.instruments or (str(cfg.resolve_path(st.instruments)) if st.instruments else None)
    registry = cfg.resolve_path("var/instruments.json")
    for attempt in range(60):
        try:
            insts = load_instruments(path, args.venue, registry=registry)
            break
        except ConfigError as e:
            # the stack fills the shared registry from the venue while programs start: wait a little
            if path or attempt == 59:
                raise
            if attempt == 0:
                _log.warning("%s; waiting up to 60 s for it to be filled", e)
            await asyncio.sleep(1.0)
    files = exchange_files(cfg, args.venue, st.markets or list(adapter.markets))
    exchange = next(k for k, x in cfg.exchanges.items() if x is next(iter(files.values())))
    creds, holder = credentials(cfg, exchange)
    svc = ConnectorService(cfg, st, adapter, prefix, insts, creds, holder)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, svc.stop)
    _log.info(
        "connector %s: prefix=%s markets=%s instruments=%d core=%s",
        args.venue,
        prefix,
        ",".join(svc.markets),
        len(insts),
        core,
    )
    try:
        return await svc.serve()
    except BaseException:
        await svc.close()
        raise


def main(argv: list[str] | None = None) -> int:
    log.setup(json_lines=os.environ.get("OMS_JSON_LOGS") == "1")
    args = parse_args(argv)
    try:
        return asyncio.run(run(args))
    except OmsError as e:
        print(f"connector: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
