"""Config room: the core sections of configs/oms.toml that belong to no other room.

Touches nothing. `[node]` (names, shm prefix, var dir, where exchange files live), `[logging]`,
`[processes.<name>]` (module, args, the core map) and `[ports]`. Other rooms add their own section in
`oms/<room>/settings.py`; the loader (oms/config/loader.py) finds both kinds the same way.
"""

from __future__ import annotations

import re

import msgspec

_NAME = re.compile(r"^[a-z][a-z0-9-]{0,31}$")
_MODULE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class NodeSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    name: str = "oms-local"  # this host's name in NATS subjects/metrics
    shm_prefix: str = "oms"  # every shared-memory segment name starts with this (one stack per prefix)
    var_dir: str = "var"  # run/, log/, data/ live below (relative paths: from the project root)
    exchanges_dir: str = "exchanges"  # relative to the directory of oms.toml


def validate_node(s: NodeSettings) -> list[tuple[str, object, str]]:
    bad: list[tuple[str, object, str]] = []
    if not _NAME.match(s.name):
        bad.append(("name", s.name, "must be lower-case letters, digits and '-' (1-32 chars, starting a-z)"))
    if not re.match(r"^[a-z][a-z0-9_]{0,15}$", s.shm_prefix):
        bad.append(("shm_prefix", s.shm_prefix, "must be 1-16 chars of a-z, 0-9, '_' starting with a letter"))
    for key in ("var_dir", "exchanges_dir"):
        if not getattr(s, key):
            bad.append((key, getattr(s, key), "must be a directory path"))
    return bad


class LoggingSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    level: str = "INFO"
    json: bool = False  # JSON lines instead of text
    dir: str = "var/log"  # where programs under supervisord write their logs
    rooms: dict[str, str] = {}  # per-room level, e.g. { "oms.venues" = "DEBUG" }


def validate_logging(s: LoggingSettings) -> list[tuple[str, object, str]]:
    bad: list[tuple[str, object, str]] = []
    if s.level.upper() not in LEVELS:
        bad.append(("level", s.level, f"must be one of {', '.join(LEVELS)}"))
    for room, level in s.rooms.items():
        if not room.startswith("oms"):
            bad.append((f"rooms.{room}", level, "must name a logger under oms, e.g. oms.venues"))
        elif level.upper() not in LEVELS:
            bad.append((f"rooms.{room}", level, f"must be one of {', '.join(LEVELS)}"))
    return bad


class ProcessSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    module: str  # python -m <module>
    args: list[str] = []
    core: int | None = None  # leave out = unpinned; missing cores are remapped with a warning
    enabled: bool = True


DEFAULT_PROCESSES: dict[str, ProcessSettings] = {
    "engine": ProcessSettings(module="oms.procs.engine", core=2),
    "marketdata": ProcessSettings(module="oms.procs.marketdata", core=3),
    "conn-binance": ProcessSettings(module="oms.procs.connector", args=["--venue", "binance"], core=4),
    "conn-bybit": ProcessSettings(
        module="oms.procs.connector", args=["--venue", "bybit"], core=5, enabled=False
    ),
    "conn-okx": ProcessSettings(module="oms.procs.connector", args=["--venue", "okx"], core=6, enabled=False),
    "gateway": ProcessSettings(module="oms.procs.gateway"),
    "bridge": ProcessSettings(module="oms.procs.bridge"),
    "recorder": ProcessSettings(module="oms.procs.recorder"),
    "monitor": ProcessSettings(module="oms.procs.monitor"),
}


def validate_processes(procs: dict[str, ProcessSettings]) -> list[tuple[str, object, str]]:
    bad: list[tuple[str, object, str]] = []
    for name, p in procs.items():
        if not _NAME.match(name):
            bad.append((name, name, "process names must be lower-case letters, digits and '-'"))
        if not _MODULE.match(p.module):
            bad.append((f"{name}.module", p.module, "must be a dotted module path like oms.procs.engine"))
        if p.core is not None and not 0 <= p.core <= 1023:
            bad.append((f"{name}.core", p.core, "must be a CPU number >= 0 (leave the key out for unpinned)"))
    return bad


class PortsSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Loopback ports of the OMS's own listeners (0 = pick a free port at start)."""

    gateway: int = 50051  # gRPC API
    sim_binance: int = 0
    sim_bybit: int = 0
    sim_okx: int = 0


def validate_ports(s: PortsSettings) -> list[tuple[str, object, str]]:
    bad: list[tuple[str, object, str]] = []
    seen: dict[int, str] = {}
    for key in msgspec.structs.fields(s):
        port = getattr(s, key.name)
        if not 0 <= port <= 65535:
            bad.append((key.name, port, "must be 0..65535 (0 picks a free loopback port)"))
        elif port and port in seen:
            bad.append((key.name, port, f"must differ from {seen[port]} (both are {port})"))
        elif port:
            seen[port] = key.name
    return bad
