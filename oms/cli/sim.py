"""CLI room (venues): `oms sim binance --port N` starts the Binance simulator in the foreground.

Touches only the simulator it starts (loopback). API keys come from `--key KEY:SECRET` (repeatable) or
the admin endpoint `POST /_sim/keys`; nothing is stored on disk.
"""

from __future__ import annotations

import argparse
import asyncio
import signal

from oms.errors import Rejected


def _parse_key(text: str) -> tuple[str, str]:
    key, sep, secret = text.partition(":")
    if not sep or not key or not secret:
        raise Rejected(f"--key {text!r} must look like KEY:SECRET (e.g. --key demo:demosecret)")
    return key, secret


async def _serve(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from oms.venues.sim.binance import BinanceSim, RateLimits, default_config

    def adjust(cur: RateLimits) -> RateLimits:
        return replace(
            cur,
            weight_per_minute=args.weight_per_minute or cur.weight_per_minute,
            orders_per_10s=args.orders_per_10s or cur.orders_per_10s,
            orders_per_minute=max(cur.orders_per_minute, 6 * (args.orders_per_10s or 0)),
        )

    cfg = default_config()
    cfg = replace(cfg, spot_limits=adjust(cfg.spot_limits), futures_limits=adjust(cfg.futures_limits))
    sim = BinanceSim(seed=args.seed, config=cfg, flow=not args.no_flow)
    for k in args.key or []:
        key, secret = _parse_key(k)
        sim.add_api_key(key, secret)
    try:
        await sim.start(host=args.host, port=args.port)
    except OSError as e:
        raise Rejected(
            f"cannot listen on {args.host}:{args.port}: {e.strerror}; pick another --port"
        ) from None
    except ValueError as e:
        raise Rejected(str(e)) from None
    print(f"binance simulator: REST {sim.url}  (spot {sim.url}/api, futures {sim.url}/fapi)", flush=True)
    print(
        f"                   WS   {sim.ws_url}/ws  {sim.ws_url}/fstream/  WS API {sim.ws_url}/ws-api/v3",
        flush=True,
    )
    print(
        "                   admin POST /_sim/faults | keys | revoke | drop_ws | flow ; Ctrl-C stops",
        flush=True,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await sim.stop()
    return 0


def _run_binance(args: argparse.Namespace) -> int:
    if args.port < 0 or args.port > 65535:
        raise Rejected(f"--port {args.port} is not a TCP port; use 0..65535 (0 = any free port)")
    return asyncio.run(_serve(args))


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sim", help="run a venue simulator on loopback")
    venues = p.add_subparsers(dest="venue", metavar="VENUE")
    b = venues.add_parser("binance", help="Binance spot + USD-M simulator (REST, streams, WS API)")
    b.add_argument("--port", type=int, default=0, help="TCP port (default: any free port)")
    b.add_argument("--host", default="127.0.0.1", help="loopback address: 127.0.0.1 or ::1")
    b.add_argument("--seed", type=int, default=0, help="seed for synthetic flow and random faults")
    b.add_argument("--no-flow", action="store_true", help="keep books still (no synthetic random walk)")
    b.add_argument("--key", action="append", metavar="KEY:SECRET", help="add an HMAC API key (repeatable)")
    b.add_argument(
        "--weight-per-minute", type=int, default=0, help="REQUEST_WEIGHT limit (default: Binance's)"
    )
    b.add_argument("--orders-per-10s", type=int, default=0, help="ORDERS per 10 s limit (default: Binance's)")
    b.set_defaults(func=_run_binance)
