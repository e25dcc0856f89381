"""Bridge program (supervisord `bridge`): engine events ring → JetStream, and NATS commands → engine.

Touches the rings `names.engine_events_to_bridge(prefix)` (consumer) and `names.bridge_commands(prefix)`
(producer), NATS, and the spool directory. Only wiring lives here; the logic is oms/bus/bridge.py
(events), oms/bus/publish.py + spool.py (acks, outages), oms/bus/intake.py (commands) and
oms/bus/market.py (the marketdata program's md.bridge ring → market.* subjects, conflated).

    python -m oms.procs.bridge [--config FILE] [--prefix oms] [--nats-url URL] [--spool-dir DIR]
                               [--no-intake] [--no-market] [--create-rings CAPACITY]
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from oms import log
from oms.bus import frames as F
from oms.bus import settings as bus_settings
from oms.bus import subjects
from oms.bus.bridge import EventBridge, connect_nats, open_bridge
from oms.bus.intake import CommandIntake
from oms.bus.market import MarketPublisher
from oms.credentials import safe_url
from oms.errors import OmsError, Transient
from oms.shm import names
from oms.shm import records as R
from oms.shm.ring import Ring, open_ring

_log = log.get("oms.procs.bridge")


def _ring(name: str, dtype: object, create: int | None, timeout_s: float, *, producer: bool) -> Ring:
    """Attach (waiting for the owner to create it; a ring left by a killed run is attached as it is),
    or create it when --create-rings gave a capacity."""
    try:
        return open_ring(
            name,
            dtype,
            create or 0,
            producer=producer,
            create=bool(create),
            timeout=timeout_s,  # type: ignore[arg-type]
        )
    except OmsError as e:
        raise OmsError(f"ring {name} is not there after {timeout_s:.0f}s ({e}); start the engine") from e


def _registry(path: str | None) -> object | None:
    """The instrument registry (venues room) for symbol tokens, if it is installed and has a file."""
    try:
        from oms.venues.instruments import DEFAULT_PATH, InstrumentRegistry
    except ImportError:
        return None
    p = Path(path) if path else Path(DEFAULT_PATH)
    if not p.exists():
        _log.info("no instrument registry at %s: subjects use I<instrument id> as the symbol", p)
        return None
    return InstrumentRegistry.open(p)


def _market(args: argparse.Namespace, registry: object | None, nc: object, bus: object) -> MarketPublisher:
    """The market-data half: md.bridge ring (created here if the marketdata program is not up yet).
    An instrument the registry does not know yet re-reads the registry file (the connectors fill it as
    they start), at most every 5 s."""
    held = {"reg": registry, "at": time.monotonic()}

    def where_of(iid: int) -> tuple[str, str, str] | None:
        for attempt in (0, 1):
            reg = held["reg"]
            try:
                inst = reg.by_id(iid) if reg is not None else None  # type: ignore[attr-defined]
            except OmsError:
                inst = None
            if inst is not None:
                return str(inst.venue), str(inst.market), str(inst.symbol).upper()
            if attempt or time.monotonic() - float(held["at"]) < 5.0:  # type: ignore[arg-type]
                return None
            held["at"] = time.monotonic()
            try:
                held["reg"] = _registry(args.instruments)
            except OmsError as e:
                _log.warning("instrument registry unreadable: %s", e)
        return None

    ring = open_ring(names.market_data_to_bridge(args.prefix), R.MARKET, 1 << 16, producer=False)
    js = nc.jetstream()  # type: ignore[attr-defined]
    return MarketPublisher(ring, js, where_of, interval_s=bus.market_interval_ms / 1000)  # type: ignore[attr-defined]


async def serve(args: argparse.Namespace) -> int:
    bus = bus_settings.resolve(args.config, nats_url=args.nats_url, spool_dir=args.spool_dir)
    events = _ring(
        names.engine_events_to_bridge(args.prefix),
        R.EVENT,
        args.create_rings,
        args.wait_rings,
        producer=False,
    )
    registry = _registry(args.instruments)
    symbol_of = F.registry_symbols(registry) if registry is not None else F.default_symbol
    nc = None
    while nc is None:  # at start NATS must answer once (the streams are created); later outages spool
        try:
            nc, bridge = await open_bridge(events, bus, symbol_of=symbol_of)
        except Transient as e:
            _log.warning("%s; retrying", e)
            await asyncio.sleep(1.0)
    assert isinstance(bridge, EventBridge)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    if bus.intake and not args.no_intake:
        cmds = _ring(
            names.bridge_commands(args.prefix), R.COMMAND, args.create_rings, args.wait_rings, producer=True
        )
        cmds.register_producer()
        intake = CommandIntake(
            cmds, registry.id_of if registry is not None else None, senders=bus.intake_senders
        )
        inc = await connect_nats(bus.nats_url, "oms-bridge-intake")

        async def on_cmd(msg: object) -> None:
            reply = intake.handle(msg.subject, msg.data)  # type: ignore[attr-defined]
            if msg.reply:  # type: ignore[attr-defined]
                await msg.respond(reply)  # type: ignore[attr-defined]

        if bus.owners:  # scale-out: commands go to the engine node owning their account (oms/bus/route.py)
            from oms.bus.route import AccountRouter

            await AccountRouter(intake, bus.node, bus.owners, inc).subscribe(inc)
        else:
            await inc.subscribe(subjects.COMMAND_WILDCARD, queue="oms-bridge", cb=on_cmd)
            await inc.flush()
        _log.info("bridge: taking commands on %s", subjects.COMMAND_WILDCARD)
    market = market_task = None
    if bus.market_data and not args.no_market:
        market = _market(args, registry, nc, bus)
        market_task = loop.create_task(market.run())
        _log.info("bridge: market data %s → market.* every %d ms", market.ring.name, bus.market_interval_ms)
    run = loop.create_task(bridge.run())
    stopping = loop.create_task(stop.wait())
    _log.info("bridge: %s → JetStream %s", events.name, safe_url(bus.nats_url))
    await asyncio.wait({run, stopping}, return_when=asyncio.FIRST_COMPLETED)
    if run.done() and run.exception() is not None:  # never keep running with a dead events loop
        _log.error("bridge: events loop failed: %r; exiting so the supervisor restarts it", run.exception())
        stopping.cancel()
        await nc.close()
        return 1
    bridge.stop()
    if market is not None:
        market.stop()
    await asyncio.gather(run, *([market_task] if market_task else []), return_exceptions=True)
    await bridge.drain(timeout_s=5.0)
    await nc.close()
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="oms-bridge", description=__doc__.splitlines()[0])
    p.add_argument("--config", default=None)
    p.add_argument("--prefix", default="oms", help="ring name prefix ([shm].prefix)")
    p.add_argument("--nats-url", default=None)
    p.add_argument("--spool-dir", default=None)
    p.add_argument("--no-intake", action="store_true", help="do not take commands from NATS")
    p.add_argument("--no-market", action="store_true", help="do not publish market data (md.bridge ring)")
    p.add_argument("--instruments", default=None, help="instrument registry file (venues room default)")
    p.add_argument("--create-rings", type=int, default=None, metavar="CAPACITY", help="create missing rings")
    p.add_argument("--wait-rings", type=float, default=60.0, help="seconds to wait for the rings")
    p.add_argument("--json-logs", action="store_true")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    log.setup(json_lines=args.json_logs)
    try:
        return asyncio.run(serve(args))
    except OmsError as e:
        print(f"oms-bridge: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
