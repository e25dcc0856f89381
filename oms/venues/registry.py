"""Venues room: the venue registry — discovers adapters through the `oms.venues` entry-point group and
checks each against the adapter protocol (oms/venues/interface.py) when it registers.

Touches only Python's entry-point metadata. An entry point names an adapter object
(`<venue> = "oms.venues.<venue>.adapter:ADAPTER"`); `register()` refuses an adapter that lacks a
member of `VenueAdapter` or of one of its three faces (instrument provider, execution client, data
client), has a non-async verb, or lacks capabilities for one of its markets — with one error naming
every problem. Callers use `get(name)`; never `getattr` on strings. Everything else that depends on the
set of venues (supervisord programs, simulators, probes, instrument loading) asks this registry.
"""

from __future__ import annotations

import inspect
from importlib.metadata import entry_points
from typing import Any

from oms.errors import ConfigError, Rejected
from oms.venues.interface import (
    Capabilities,
    DataClient,
    ErrorTable,
    ExecutionClient,
    InstrumentProvider,
    VenueAdapter,
)

GROUP = "oms.venues"
_FACES = (("instrument_provider", InstrumentProvider), ("execution", ExecutionClient), ("data", DataClient))


def _members(proto: type) -> tuple[list[str], list[str]]:
    """(sync methods, async methods) a Protocol requires."""
    sync, coro = [], []
    for name, fn in vars(proto).items():
        if name.startswith("_") or not callable(fn):
            continue
        (coro if inspect.iscoroutinefunction(fn) else sync).append(name)
    return sorted(sync), sorted(coro)


def _check_face(obj: object, proto: type, where: str) -> list[str]:
    problems = []
    sync, coro = _members(proto)
    for name in sync + coro:
        fn = getattr(obj, name, None)
        if fn is None or not callable(fn):
            kind = "async def" if name in coro else "def"
            problems.append(f"{where} lacks '{kind} {name}(...)'")
        elif name in coro and not inspect.iscoroutinefunction(fn):
            problems.append(f"{where}.{name} must be 'async def'")
    return problems


def check(adapter: object) -> list[str]:
    """Every way `adapter` falls short of the VenueAdapter protocol (empty list = conforms)."""
    problems: list[str] = []
    name = getattr(adapter, "name", None)
    if not isinstance(name, str) or not name.isidentifier() or name != name.lower():
        problems.append("'name' must be a lower-case identifier (the venue's name)")
    markets = getattr(adapter, "markets", None)
    if not isinstance(markets, tuple) or not markets or not all(isinstance(m, str) for m in markets):
        problems.append("'markets' must be a non-empty tuple of market names")
        markets = ()
    caps = getattr(adapter, "capabilities", None)
    if not isinstance(caps, dict) or not all(isinstance(v, Capabilities) for v in caps.values()):
        problems.append("'capabilities' must be dict[market, Capabilities] (capabilities as data)")
    else:
        problems += [f"capabilities has no entry for market '{m}'" for m in markets if m not in caps]
    if not isinstance(getattr(adapter, "ping_paths", None), dict):
        problems.append("'ping_paths' must be dict[market, path] (monitor liveness probes)")
    if not hasattr(adapter, "simulator"):
        problems.append("'simulator' must be a SimulatorSpec or None")
    if not isinstance(getattr(adapter, "errors", None), ErrorTable):
        problems.append("'errors' must be an ErrorTable (exact / broad error codes as data)")
    for attr, proto in _FACES:
        face = getattr(adapter, attr, None)
        if face is None:
            problems.append(f"missing face '{attr}' ({proto.__name__})")
        else:
            problems += _check_face(face, proto, attr)
    for meth in ("transport", "limit_header", "client_id", "parse_client_id"):
        if not callable(getattr(adapter, meth, None)):
            problems.append(f"missing method '{meth}(...)'")
    return problems


class VenueRegistry:
    def __init__(self) -> None:
        self._venues: dict[str, VenueAdapter] = {}

    def register(self, name: str, adapter: Any) -> None:
        problems = check(adapter)
        if not problems and adapter.name != name:
            problems.append(f"entry point name {name!r} differs from the adapter's name {adapter.name!r}")
        if problems:
            where = getattr(adapter, "__module__", type(adapter).__module__)
            raise ConfigError(
                f"venue adapter {where}.{type(adapter).__qualname__} registered as {name!r} does not "
                "implement the adapter protocol (oms/venues/interface.py): " + "; ".join(problems)
            )
        self._venues[name] = adapter

    def discover(self) -> list[str]:
        """Load every `oms.venues` entry point; returns the names registered."""
        found = []
        for ep in entry_points(group=GROUP):
            try:
                obj = ep.load()
            except Exception as e:
                raise ConfigError(
                    f"entry point {GROUP}:{ep.name} = {ep.value!r} failed to import: {e}; "
                    "fix the module path in pyproject.toml and reinstall (pip install -e .)"
                ) from e
            self.register(ep.name, obj() if inspect.isclass(obj) else obj)
            found.append(ep.name)
        return found

    def names(self) -> list[str]:
        return sorted(self._venues)

    def get(self, name: str) -> VenueAdapter:
        try:
            return self._venues[name]
        except KeyError:
            raise Rejected(
                f"unknown venue {name!r}; registered venues: {', '.join(self.names()) or 'none'} "
                f"(adapters register through the '{GROUP}' entry-point group)"
            ) from None

    def capabilities(self, name: str, market: str) -> Capabilities:
        caps = self.get(name).capabilities
        if market not in caps:
            raise Rejected(f"venue {name!r} has no market {market!r}; markets: {', '.join(sorted(caps))}")
        return caps[market]


_default: VenueRegistry | None = None


def default_registry() -> VenueRegistry:
    """The process-wide registry, discovered from entry points on first use."""
    global _default
    if _default is None:
        reg = VenueRegistry()
        reg.discover()
        _default = reg
    return _default
