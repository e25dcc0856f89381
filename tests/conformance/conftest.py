"""Conformance suite fixtures: one parametrisation over every registered venue (oms/venues/registry.py).

Each venue brings a kit (`tests/conformance/kits/<venue>.py`: its simulator, documented signing vectors,
recorded payloads, reject codes per class). A registered venue without a kit fails the suite — a venue is
done when it passes it. Lifecycle tests share one simulator and one connector process per venue (module
scope) so the whole suite stays fast; capabilities a venue lacks are skipped by capability, with a reason.
"""

from __future__ import annotations

import importlib
import uuid
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest

from oms.venues.interface import Capabilities
from oms.venues.registry import default_registry

VENUES = default_registry().names()


def kit_of(venue: str) -> ModuleType:
    try:
        return importlib.import_module(f"tests.conformance.kits.{venue}")
    except ImportError:
        pytest.fail(
            f"venue {venue!r} is registered but has no conformance kit tests/conformance/kits/{venue}.py"
        )


@pytest.fixture(scope="module", params=VENUES)
def kit(request: pytest.FixtureRequest) -> ModuleType:
    return kit_of(request.param)


def caps(kit: ModuleType, inst: tuple) -> Capabilities:
    return default_registry().get(kit.VENUE).capabilities[inst[1]]


def need(ok: bool, kit: ModuleType, what: str) -> None:
    if not ok:
        pytest.skip(f"{kit.VENUE} lacks the capability: {what} (oms/venues/{kit.VENUE}/capabilities.py)")


@pytest.fixture(scope="module")
def live(kit: ModuleType, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Any]]:
    """(venue, connector): the kit's simulator and one connector process driving it."""
    with kit.running(tmp_path_factory.mktemp(f"conf-{kit.VENUE}"), f"cf{uuid.uuid4().hex[:8]}") as vc:
        yield vc
