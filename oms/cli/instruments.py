"""CLI room: `oms instruments sync|list` — the instrument registry filled from the venues themselves.

Touches the registry file (default `var/instruments.json`) and each enabled venue's public instrument
endpoint (the URL of its configs/exchanges/ file, or `--url` to point one venue at, e.g., a simulator).
Venue-neutral: the venues are the registered adapters (oms/venues/registry.py).
"""

from __future__ import annotations

import argparse
import asyncio
import os
from pathlib import Path

from oms.errors import ConfigError


def cmd_sync(args: argparse.Namespace) -> int:
    from oms.config import load
    from oms.conn.sync import enabled_endpoints, sync

    cfg = load(args.config)
    eps = enabled_endpoints(cfg, args.venue or None)
    if args.url:
        if len(eps) != 1:
            raise ConfigError(
                f"--url needs exactly one --venue (venues selected: {', '.join(eps) or 'none'})"
            )
        eps = {v: {m: args.url for m in ms} for v, ms in eps.items()}
    if not eps:
        raise ConfigError(
            "no enabled exchange file of a registered venue in configs/exchanges/ (see `oms config show`)"
        )
    path = Path(args.registry) if args.registry else cfg.resolve_path("var/instruments.json")
    counts = asyncio.run(sync(path, eps))
    for venue, n in sorted(counts.items()):
        print(f"{venue}: {n} instruments -> {path}" if n else f"{venue}: unreachable, cached specs kept")
    return 0 if all(counts.values()) else 1


def cmd_list(args: argparse.Namespace) -> int:
    from oms.venues.instruments import InstrumentRegistry

    reg = InstrumentRegistry.open(args.registry or "var/instruments.json")
    for i in reg.all():
        if args.venue and i.venue not in args.venue:
            continue
        print(f"{i.id:5d} {i.venue:10s} {i.market:8s} {i.symbol:16s} tick {i.tick_size} lot {i.lot_size}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("instruments", help="instrument registry: sync from the venues, list")
    s = p.add_subparsers(dest="instruments_cmd", required=True)
    for name, func, doc in (
        ("sync", cmd_sync, "fill the registry from each enabled venue's own instrument endpoint"),
        ("list", cmd_list, "print the registry"),
    ):
        q = s.add_parser(name, help=doc, description=doc)
        q.add_argument("--config", default=os.environ.get("OMS_CONFIG"), help="configs/oms.toml path")
        q.add_argument("--registry", default=None, help="registry file (default <root>/var/instruments.json)")
        q.add_argument("--venue", action="append", default=[], help="only this venue (repeatable)")
        if name == "sync":
            q.add_argument("--url", default=None, help="REST base URL for the one --venue (e.g. a simulator)")
        q.set_defaults(func=func)
