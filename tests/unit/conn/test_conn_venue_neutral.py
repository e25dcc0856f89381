"""The runtime and the wiring are venue-neutral: no venue import in oms/conn, no venue name outside the
venue's own folder and config (greps the source, so a regression fails here, not in review)."""

from __future__ import annotations

import re
from pathlib import Path

from oms.venues.registry import default_registry

ROOT = Path(__file__).resolve().parents[3]
OMS = ROOT / "oms"
VENUE_DIRS = sorted(p.name for p in (OMS / "venues").iterdir() if p.is_dir() and not p.name.startswith("_"))
VENUES = sorted(set(default_registry().names()) | {d for d in VENUE_DIRS if d != "sim"})
NAMES = re.compile("|".join(VENUES), re.IGNORECASE)

# files that must never name a venue: the runtime and everything wired from the registry
STRICT = [
    *sorted((OMS / "conn").glob("*.py")),
    OMS / "procs" / "connector.py",
    OMS / "cli" / "stack.py",
    OMS / "cli" / "_stacksim.py",
    OMS / "cli" / "instruments.py",
    OMS / "monitor" / "probe.py",
    *(OMS / "venues" / f for f in ("__init__.py", "errors.py", "interface.py", "registry.py", "settings.py")),
]
# still naming a venue outside its folder: shared debt to remove, listed so a new one fails the test
KNOWN = {
    "api/instruments.py", "api/validation.py", "backtest/tape.py", "bus/settings.py", "bus/streams.py",
    "bus/subjects.py", "cli/_stackview.py", "cli/deploy.py", "cli/futures.py", "cli/keys.py",
    "cli/sim.py", "cli/tape.py", "client.py", "config/__init__.py", "config/core.py",
    "config/exchange.py", "config/loader.py", "config/model.py", "engine/report.py", "ids.py",
    "monitor/frames.py", "monitor/state.py", "procs/engine.py", "procs/marketdata.py",
    "procs/monitor.py", "secrets/local.py", "secrets/locked.py", "secrets/model.py",
    "secrets/rotation.py", "secrets/schedule.py", "secrets/vault.py", "venues/symbols.py",
}  # fmt: skip


def test_runtime_imports_no_venue() -> None:
    bad = []
    for f in sorted((OMS / "conn").glob("*.py")):
        for n, line in enumerate(f.read_text().splitlines(), 1):
            m = re.match(r"\s*(from|import)\s+oms\.venues\.(\w+)", line)
            if m and m.group(2) in VENUE_DIRS:
                bad.append(f"{f.relative_to(ROOT)}:{n}: {line.strip()}")
    assert not bad, "oms/conn imports a venue package:\n" + "\n".join(bad)


def test_wiring_names_no_venue() -> None:
    bad = []
    for f in STRICT:
        for n, line in enumerate(f.read_text().splitlines(), 1):
            if NAMES.search(line):
                bad.append(f"{f.relative_to(ROOT)}:{n}: {line.strip()}")
    assert not bad, "venue names outside the venue's folder (use the registry):\n" + "\n".join(bad)


def test_no_new_file_names_a_venue() -> None:
    offenders = set()
    for f in OMS.rglob("*.py"):
        rel = f.relative_to(OMS).as_posix()
        if rel.startswith("venues/") and rel.split("/")[1] in VENUE_DIRS:
            continue  # a venue's own folder (and the simulators)
        if "/gen/" in rel:
            continue  # generated gRPC code
        if NAMES.search(f.read_text()):
            offenders.add(rel)
    new = offenders - KNOWN
    assert not new, f"new files name a venue (go through the registry instead): {sorted(new)}"
    assert offenders, "the grep found nothing at all: is the venue list empty?"


def test_the_grep_can_fail() -> None:
    assert NAMES.search("from oms.venues.binance import x") and not NAMES.search("from oms.venues import x")
