"""Venues room: the venue registry — discovers adapters through the `oms.venues` entry-point group and
checks each against the `Exchange` Protocol when it registers.

Touches only Python's entry-point metadata. An entry point names an adapter class
(`binance = "oms.venues.binance.exchange:BinanceExchange"`); `register()` refuses a class that lacks a
Protocol member or implements an async verb as a plain function, with an error naming every problem.
Callers use `get(name)` / `create(name, market, **kw)`; never `getattr` on strings.
"""

from __future__ import annotations

import inspect
from importlib.metadata import entry_points
from typing import Any

from oms.errors import ConfigError, Rejected
from oms.venues.interface import Capabilities, Exchange

GROUP = "oms.venues"
_DATA_MEMBERS = ("venue", "markets", "market", "capabilities")


def protocol_members() -> tuple[list[str], list[str]]:
    """(data members, async methods) the Exchange Protocol requires."""
    methods = sorted(
        name
        for name, fn in vars(Exchange).items()
        if not name.startswith("_") and inspect.iscoroutinefunction(fn)
    )
    return list(_DATA_MEMBERS), methods


def check(cls: type) -> list[str]:
    """Every way `cls` falls short of the Exchange Protocol (empty list = conforms)."""
    data, methods = protocol_members()
    problems: list[str] = []
    annotations: dict[str, Any] = {}
    for klass in reversed(cls.__mro__):
        annotations.update(getattr(klass, "__annotations__", {}))
    for name in data:
        if not hasattr(cls, name) and name not in annotations:
            problems.append(f"missing attribute '{name}'")
    for name in methods:
        fn = getattr(cls, name, None)
        if fn is None:
            problems.append(f"missing method 'async def {name}(...)'")
        elif not inspect.iscoroutinefunction(fn):
            problems.append(f"'{name}' must be 'async def'")
    caps = getattr(cls, "CAPABILITIES", None)
    if not isinstance(caps, dict) or not all(isinstance(v, Capabilities) for v in caps.values()):
        problems.append("missing 'CAPABILITIES: dict[market, Capabilities]' (capabilities as data)")
    else:
        for m in getattr(cls, "markets", ()):
            if m not in caps:
                problems.append(f"CAPABILITIES has no entry for market '{m}'")
    return problems


class VenueRegistry:
    def __init__(self) -> None:
        self._venues: dict[str, type] = {}

    def register(self, name: str, cls: type) -> None:
        problems = check(cls)
        if problems:
            raise ConfigError(
                f"venue adapter {cls.__module__}.{cls.__qualname__} registered as {name!r} does not "
                "implement the Exchange protocol (oms/venues/interface.py): " + "; ".join(problems)
            )
        self._venues[name] = cls

    def discover(self) -> list[str]:
        """Load every `oms.venues` entry point; returns the names registered."""
        found = []
        for ep in entry_points(group=GROUP):
            try:
                cls = ep.load()
            except Exception as e:
                raise ConfigError(
                    f"entry point {GROUP}:{ep.name} = {ep.value!r} failed to import: {e}; "
                    "fix the module path in pyproject.toml and reinstall (pip install -e .)"
                ) from e
            self.register(ep.name, cls)
            found.append(ep.name)
        return found

    def names(self) -> list[str]:
        return sorted(self._venues)

    def get(self, name: str) -> type:
        try:
            return self._venues[name]
        except KeyError:
            raise Rejected(
                f"unknown venue {name!r}; registered venues: {', '.join(self.names()) or 'none'} "
                f"(adapters register through the '{GROUP}' entry-point group)"
            ) from None

    def capabilities(self, name: str, market: str) -> Capabilities:
        caps = self.get(name).CAPABILITIES  # type: ignore[attr-defined]
        if market not in caps:
            raise Rejected(f"venue {name!r} has no market {market!r}; markets: {', '.join(sorted(caps))}")
        return caps[market]

    def create(self, name: str, market: str, **kwargs: Any) -> Exchange:
        cls = self.get(name)
        self.capabilities(name, market)
        return cls(market=market, **kwargs)


_default: VenueRegistry | None = None


def default_registry() -> VenueRegistry:
    """The process-wide registry, discovered from entry points on first use."""
    global _default
    if _default is None:
        reg = VenueRegistry()
        reg.discover()
        _default = reg
    return _default
