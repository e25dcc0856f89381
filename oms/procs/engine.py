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
import os
import signal
import sys
import threading
import tomllib
from pathlib import Path

from oms import ids, log, pinning
from oms.engine import settings as ES
from oms.engine.core import Engine
from oms.engine.instruments import InstrumentSpec, spec_from_instrument
from oms.engine.service import EngineService
from oms.errors import ConfigError, OmsError

_log = log.get(__name__)
_FIELDS = ("id", "venue", "market", "symbol", "base", "quote", "tick_size", "lot_size")


class _Row:
    def __init__(self, d: dict[str, object]) -> None:
        self.__dict__.update(d)


def load_instruments(path: str | None) -> list[InstrumentSpec]:
    """Instruments from a TOML file ([[instrument]] tables) or from the venues room's registry."""
    if path:
        p = Path(path)
        try:
            data = tomllib.loads(p.read_text())
        except (OSError, tomllib.TOMLDecodeError) as e:
            raise ConfigError(f"--instruments {p}: cannot read it as TOML ({e})") from None
        rows = data.get("instrument", [])
        if not isinstance(rows, list) or not rows:
            raise ConfigError(f"--instruments {p}: needs one or more [[instrument]] tables with {_FIELDS}")
        out = []
        for n, row in enumerate(rows):
            missing = [f for f in _FIELDS if f not in row]
            if missing:
                raise ConfigError(f"--instruments {p}: [[instrument]] #{n + 1} lacks {', '.join(missing)}")
            out.append(spec_from_instrument(_Row(row)))
        return out
    try:
        from oms.venues.instruments import InstrumentRegistry  # type: ignore[import-not-found]
    except ImportError:
        raise ConfigError(
            "no instruments: pass --instruments FILE (TOML [[instrument]] tables) — the venues room's "
            "instrument registry (oms.venues.instruments) is not available in this build"
        ) from None
    reg = InstrumentRegistry.load()  # type: ignore[attr-defined]
    return [spec_from_instrument(i) for i in reg.all()]


def venue_capabilities(venues: list[str]) -> dict[int, int]:
    """Native capability bits per venue from the venues room's capability data, when it exists."""
    from oms.engine import constants as C

    out: dict[int, int] = {}
    bits = {name: bit for bit, name in C.CAPABILITY_NAMES.items()}
    for v in venues:
        try:
            mod = __import__(f"oms.venues.{v}.capabilities", fromlist=["CAPABILITIES"])
        except ImportError:
            continue
        caps = getattr(mod, "CAPABILITIES", None)
        names = caps if isinstance(caps, (list, tuple, set, frozenset)) else getattr(caps, "native", ())
        out[ids.venue_id(v)] = sum(bits[n] for n in names if n in bits)
    return out


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="oms.procs.engine", description=__doc__.splitlines()[0])
    p.add_argument("--config", default=os.environ.get("OMS_CONFIG"), help="path to oms.toml")
    p.add_argument("--prefix", default=None, help="shm prefix (default [node].shm_prefix)")
    p.add_argument("--venues", default="binance", help="comma-separated venues with a connector ring pair")
    p.add_argument("--instruments", default=None, help="TOML file of [[instrument]] tables")
    p.add_argument("--event-log", default=None, help="engine event log (default [risk].event_log)")
    p.add_argument("--core", type=int, default=None, help="override the core from the plan")
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
    for spec in load_instruments(args.instruments):
        engine.add_instrument(spec)
    engine.apply_settings(st, venue_capabilities(venues))
    event_log = args.event_log if args.event_log is not None else st.event_log
    if event_log:
        event_log = str(cfg.resolve_path(event_log))
    svc = EngineService(
        engine, prefix, venues, ring_capacity=st.ring_capacity, batch=st.batch, event_log=event_log
    )
    return svc


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
    try:
        n = svc.restore()
        svc.start()
        _log.info(
            "engine running: prefix=%s venues=%s replayed=%d events", svc.prefix, ",".join(svc.venues), n
        )
        print("ENGINE READY", flush=True)
        svc.serve(stop)
    except OmsError as e:
        print(f"engine: {e}", file=sys.stderr)
        return 1
    finally:
        svc.stop()
        svc.close()
        _log.info("engine stopped: %s", svc.engine.counters())
    return 0


if __name__ == "__main__":
    sys.exit(main())
