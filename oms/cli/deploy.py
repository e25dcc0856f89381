"""CLI room: `oms deploy supervisord` — the reference bare-metal `supervisord.conf` at the top level.

Touches only the file it writes (default `<root>/supervisord.conf`). Renders configs/oms.toml through the
same template and renderer `oms up` uses (configs/supervisord.conf.tmpl, oms.cli.stack.render), but for
the reference machine of DESIGN.md (8 cores: engine and market data on 2-3, one connector per core from
4, everything else together on 0-1) instead of this one, with paths written as supervisord's `%(here)s`
so the file works from wherever the checkout lives. A connector program is rendered only when its venue
is registered (an `oms.venues` entry point): the file never starts a venue that is not built.
`--check` compares instead of writing (the test and CI use it): exit 1 and a diff when stale.
"""

from __future__ import annotations

import argparse
import difflib
import os
import sys
from pathlib import Path
from typing import Any

from oms import pinning
from oms.cli import stack
from oms.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
REFERENCE_CORES = list(range(8))  # the reference box; `oms up` adapts to the real one
HOUSEKEEPING = "0-1"  # cores of everything not pinned to its own core (services, gateway, bridge, ...)
HERE = "%(here)s"  # supervisord expands it to the directory holding the file
_SENTINEL = "/@oms-here@"  # rendered in place of the root, then replaced by HERE (after %-escaping)
# Ports of the embedded services in the reference file: their usual ports unless [services.*] fixes one.
SERVICE_PORTS = {"nats": 4222, "nats_monitor": 8222, "postgres": 5432, "redis": 6379, "openbao": 8200}


def registered_venues() -> list[str]:
    """Venues with an adapter registered through the `oms.venues` entry points."""
    from oms.venues.registry import default_registry

    return default_registry().names()


def _venue_of(args: list[str]) -> str | None:
    return args[args.index("--venue") + 1] if "--venue" in args[:-1] else None


def _ports(cfg: Any) -> dict[str, int]:
    ss = cfg.section("services")
    return {
        "nats": ss.nats.port or SERVICE_PORTS["nats"],
        "nats_monitor": ss.nats.monitor_port or SERVICE_PORTS["nats_monitor"],
        "postgres": ss.postgres.port or SERVICE_PORTS["postgres"],
        "redis": ss.redis.port or SERVICE_PORTS["redis"],
        "openbao": ss.openbao.port or SERVICE_PORTS["openbao"],
    }


def reference_plan(cfg: Any, venues: list[str]) -> dict[str, Any]:
    """Programs of the reference file: the embedded services, then every present OMS program."""
    paths = stack.StackPaths(Path(_SENTINEL))
    ports = _ports(cfg)
    ss = cfg.section("services")
    py, oms_bin, conf = f"{_SENTINEL}/.venv/bin/python", f"{_SENTINEL}/.venv/bin/oms", "configs/oms.toml"
    left_out: dict[str, str] = {}
    slots: list[tuple[str, str, str]] = []  # (core, program, state) for the header table
    apps: dict[str, tuple[Any, str | None]] = {}
    for name, spec in cfg.processes.items():
        venue = _venue_of(spec.args)
        if venue is not None and venue not in venues:
            why = f"venue {venue!r} not registered yet (no oms.venues entry point)"
        elif not spec.enabled:
            why = f"enabled = false in [processes.{name}]"
        elif not stack.module_exists(spec.module):
            why = f"module {spec.module} not present"
        else:
            apps[name] = (spec, venue)
            continue
        left_out[name] = why
        if spec.core is not None:
            slots.append((str(spec.core), name, f"not started: {why}"))
    placements = pinning.plan({n: s.core for n, (s, _) in apps.items()}, cores=REFERENCE_CORES)
    present = sorted({v for _, v in apps.values() if v}) or venues[:1]
    endpoints = {
        "nats": {"url": f"nats://127.0.0.1:{ports['nats']}"},
        "postgres": {
            "dsn": f"host=127.0.0.1 port={ports['postgres']} user=postgres dbname={ss.postgres.database}"
        },
        "redis": {"url": f"redis://127.0.0.1:{ports['redis']}/0"},
        "openbao": {"url": f"http://127.0.0.1:{ports['openbao']}"},
    }
    env = stack._program_env(paths, endpoints, cfg.node.shm_prefix, [])
    env["OMS_CONFIG"] = f"{_SENTINEL}/{conf}"
    fill = {
        "monitor_port": str(cfg.section("monitor").port or 9464),
        "prefix": cfg.node.shm_prefix,
        "venues": ",".join(present),
        "nats": endpoints["nats"]["url"],
        "data": str(paths.data),
        "gateway_port": str(cfg.ports.gateway or 50051),
    }
    svc_env = {
        "OMS_SERVICES__NATS__PORT": str(ports["nats"]),
        "OMS_SERVICES__NATS__MONITOR_PORT": str(ports["nats_monitor"]),
        "OMS_SERVICES__POSTGRES__PORT": str(ports["postgres"]),
        "OMS_SERVICES__REDIS__PORT": str(ports["redis"]),
        "OMS_SERVICES__OPENBAO__PORT": str(ports["openbao"]),
    }
    programs = [
        stack.Program(
            "local-services",
            ["taskset", "-c", HOUSEKEEPING, oms_bin, "services", "up", "--foreground", "--config", conf],
            stack.SERVICE_PRIORITY,
            "service",
            env={"OMS_ROOT": _SENTINEL, **svc_env},
            stopwaitsecs=30,
            startsecs=2,
        )
    ]
    for name, (spec, _venue) in apps.items():
        pl = placements[name]
        cpus = HOUSEKEEPING if pl.core is None else str(pl.core)
        cmd = ["taskset", "-c", cpus, py, "-u", "-m", spec.module, *spec.args]
        cmd += [a.format(**fill) for a in stack.PROGRAM_ARGS.get(name.split("-")[0], [])]
        prog = stack.Program(
            name, cmd, stack.priority_of(name), "app", core=pl.core, wanted=spec.core, note=pl.note
        )
        prog.startsecs = stack.APP_STARTSECS
        prog.env = {**env, "OMS_CORE": "" if pl.core is None else str(pl.core)}
        programs.append(prog)
        slots.append((cpus if pl.core is not None else HOUSEKEEPING, name, "started"))
    return {"programs": programs, "left_out": left_out, "slots": slots, "cores": REFERENCE_CORES}


def _header(plan: dict[str, Any], venues: list[str]) -> str:
    rows = sorted(plan["slots"], key=lambda r: (r[0] != HOUSEKEEPING, r[0], r[1]))
    lines = [
        "; REFERENCE supervisord.conf for a bare-metal box with >= 8 cores (DESIGN.md core plan).",
        "; Generated by `oms deploy supervisord` from configs/oms.toml and the registered venues.",
        "; Do not edit: change configs/oms.toml, re-run the command and commit",
        "; (tests/unit/deploy checks that it is current).",
        "; Use: `make install`, then `.venv/bin/supervisord -c supervisord.conf` from the checkout",
        "; (`.venv/bin/supervisorctl -c supervisord.conf status`). On a smaller machine use `oms up`,",
        "; which renders the same template for the cores it finds. See docs/deploy.md.",
        ";",
        f"; Registered venues: {', '.join(venues) or 'none'}. Core plan:",
    ]
    lines += [f";   core {core:<4} {name:<14} {state}" for core, name, state in rows]
    lines += [
        ";",
        "; Slots 5-7 (conn-bybit, conn-okx, conn-upbit) fill as venues land: a venue is started",
        "; here once its adapter registers (an `oms.venues` entry point in pyproject.toml) and its",
        "; [processes.conn-<venue>] table in configs/oms.toml is enabled; then re-run",
        "; `oms deploy supervisord`. Unlike `oms up`, every program autostarts (in priority order;",
        "; OMS programs retry until their services answer). The `local-services` program runs the",
        "; embedded NATS/PostgreSQL/Redis/OpenBao on their usual loopback ports; with your own servers,",
        "; remove it and point OMS_NATS_URL / OMS_PG_DSN / OMS_REDIS_URL / OMS_VAULT_ADDR (the",
        "; environment= lines) at them. Isolate cores 2-7 with scripts/tuning/tune.py first.",
        "",
    ]
    return "\n".join(lines)


def render_reference(config: str | os.PathLike[str] | None = None, venues: list[str] | None = None) -> str:
    """The reference file's text for `config` (default configs/oms.toml, environment overrides ignored)."""
    from oms.config import load

    cfg = load(config or ROOT / "configs" / "oms.toml", env={})
    venues = registered_venues() if venues is None else venues
    plan = reference_plan(cfg, venues)
    fixed = {
        "rendered_at": "by `oms deploy supervisord`",
        "user_line": "",
        "core_plan": ", ".join(
            f"{p.name}={HOUSEKEEPING if p.core is None else p.core}"
            for p in plan["programs"]
            if p.kind == "app"
        ),
    }
    body = stack.render(stack.StackPaths(Path(_SENTINEL)), plan, fixed=fixed, autostart_apps=True)
    return (_header(plan, venues) + body).replace(_SENTINEL, HERE).rstrip() + "\n"


LOCK = ROOT / "deploy" / "docker" / "requirements.lock"


def runtime_lock() -> str:
    """Every distribution the `oms` package needs at run time (its dependencies, transitively, no
    extras of its own), pinned to the version installed in this venv: the container's wheel set."""
    from importlib import metadata

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    pins: dict[str, str] = {}
    todo: list[tuple[str, frozenset[str]]] = [(r, frozenset({""})) for r in metadata.requires("oms") or []]
    while todo:
        text, extras = todo.pop()
        req = Requirement(text)
        if req.marker and not any(req.marker.evaluate({"extra": e}) for e in extras):
            continue
        name = canonicalize_name(req.name)
        try:
            dist = metadata.distribution(req.name)
        except metadata.PackageNotFoundError:
            raise ConfigError(f"{req.name} (needed by oms) is not installed; run `make install`") from None
        key = f"{name}[{','.join(sorted(req.extras))}]"
        if key in pins:
            continue
        pins[key] = dist.version
        todo += [(sub, frozenset({"", *req.extras})) for sub in dist.requires or []]
    versions = {k.split("[")[0]: v for k, v in pins.items()}
    lines = [
        "# Runtime wheels of the OMS container image, pinned (generated by `oms deploy lock` from the venv",
        "# that `make install` builds from pyproject.toml; tests/unit/deploy checks it is current).",
        *[f"{name}=={versions[name]}" for name in sorted(versions)],
    ]
    return "\n".join(lines) + "\n"


def _write_or_check(out: Path, text: str, check: bool, how: str) -> int:
    if not check:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text)
        print(f"wrote {out}")
        return 0
    try:
        have = out.read_text()
    except FileNotFoundError:
        raise ConfigError(f"{out} is missing; create it with `{how}`") from None
    if have == text:
        print(f"{out} is current")
        return 0
    sys.stdout.writelines(difflib.unified_diff(have.splitlines(True), text.splitlines(True), str(out), "new"))
    print(f"{out} is stale: regenerate it with `{how}` and commit it", file=sys.stderr)
    return 1


def cmd_lock(args: argparse.Namespace) -> int:
    return _write_or_check(Path(args.out), runtime_lock(), args.check, "oms deploy lock")


def cmd_supervisord(args: argparse.Namespace) -> int:
    return _write_or_check(
        Path(args.out), render_reference(args.config), args.check, "oms deploy supervisord"
    )


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("deploy", help="deployment files: reference supervisord.conf, image wheel lock")
    dsub = p.add_subparsers(dest="deploy_command", metavar="WHAT", required=True)
    s = dsub.add_parser("supervisord", help="render the reference top-level supervisord.conf (8-core plan)")
    s.add_argument("--config", default=None, help="configs/oms.toml path (default: the repository's)")
    s.add_argument("--out", default=str(ROOT / "supervisord.conf"), help="file to write or check")
    s.add_argument("--check", action="store_true", help="exit 1 with a diff if the file is not current")
    s.set_defaults(func=cmd_supervisord)
    s = dsub.add_parser(
        "lock", help="pin the container image's runtime wheels (deploy/docker/requirements.lock)"
    )
    s.add_argument("--out", default=str(LOCK), help="file to write or check")
    s.add_argument("--check", action="store_true", help="exit 1 with a diff if the file is not current")
    s.set_defaults(func=cmd_lock)
