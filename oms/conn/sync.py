"""Connector room: instruments from the venues themselves — `oms instruments sync` and `oms up`.

Touches each venue's public instrument endpoint (through its adapter's instrument provider and a public
REST gate: no key, the venue's error table, no shared budget) and the instrument registry file
(`oms.venues.instruments.InstrumentRegistry`, default `var/instruments.json`): ids stay stable, specs
are refreshed. Venue-neutral: which venues and URLs come from the registry and configs/exchanges/.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from oms import log
from oms.conn.rest import VenueRest
from oms.errors import ConfigError, OmsError
from oms.venues.instruments import Instrument, InstrumentRegistry
from oms.venues.interface import VenueAdapter
from oms.venues.registry import default_registry

_log = log.get(__name__)


async def fetch(
    adapter: VenueAdapter, endpoints: dict[str, str], timeout_s: float = 10.0
) -> list[Instrument]:
    """Every instrument of the given markets ({market: rest_url}) from the venue's own endpoint."""
    transport = adapter.transport(lambda: (0, "", ""), endpoints, 5000)
    rest = VenueRest(adapter, transport, tuple(endpoints), timeout_s=timeout_s)
    out: list[Instrument] = []
    try:
        for market in endpoints:
            out += await adapter.instrument_provider.instruments(rest, market)
    finally:
        await rest.close()
    return out


def enabled_endpoints(cfg: Any, venues: list[str] | None = None) -> dict[str, dict[str, str]]:
    """venue → {market: rest_url} for the enabled exchange files of registered venues."""
    reg = default_registry()
    out: dict[str, dict[str, str]] = {}
    for x in cfg.exchanges.values():
        if not x.enabled or x.venue not in reg.names() or (venues and x.venue not in venues):
            continue
        if x.market in reg.get(x.venue).markets:
            out.setdefault(x.venue, {})[x.market] = x.rest_url
    return out


async def sync(registry_path: str | Path, endpoints: dict[str, dict[str, str]]) -> dict[str, int]:
    """Fill the instrument registry from each venue; returns venue → instruments stored. A venue that
    does not answer keeps its cached specs (logged), so a restart without network still knows them."""
    reg = default_registry()
    store = InstrumentRegistry.open(registry_path)
    counts: dict[str, int] = {}
    for venue, eps in sorted(endpoints.items()):
        try:
            specs = await fetch(reg.get(venue), eps)
        except OmsError as e:
            _log.warning("%s: instruments unavailable (%s); keeping the cached ones", venue, e)
            counts[venue] = 0
            continue
        if not specs:
            raise ConfigError(f"{venue}: the venue listed no instruments at {', '.join(eps.values())}")
        counts[venue] = len(store.load(specs))
    return counts
