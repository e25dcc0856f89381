"""CLI room: `oms services up|down|status` — the embedded local servers by hand.

Touches what oms/services/manager.py touches (the servers, var/data, var/run/services.json, var/log).
`up` starts a detached keeper and returns once all four answer; `status` probes each with a real
request; `down` stops them and checks nothing is left. Driven by the `[services]` config section.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from oms.errors import OmsError


def _settings(args: argparse.Namespace) -> tuple[Any, Path]:
    from oms.config import load

    cfg = load(args.config)
    return cfg.section("services"), cfg.root


def _state_path(args: argparse.Namespace) -> Path:
    from oms.services.manager import STATE_FILE

    s, root = _settings(args)
    run = Path(s.run_dir)
    return (run if run.is_absolute() else root / run) / STATE_FILE


def _table(rows: list[dict[str, Any]]) -> str:
    head = f"{'service':<10} {'pid':>8} {'port':>6}  {'state':<9} url"
    lines = [head, "-" * len(head)]
    for r in rows:
        state = "healthy" if r["healthy"] else ("running" if r["alive"] else "down")
        lines.append(f"{r['name']:<10} {r['pid'] or '-':>8} {r['port']:>6}  {state:<9} {r['url']}")
    return "\n".join(lines)


def _refuse_supervisord(state_path: Path) -> None:
    from oms.services.manager import read_state

    st = read_state(state_path)
    if st and st.get("supervisord"):
        raise OmsError("the services run under supervisord (`oms up`); stop them with `oms down`")


def cmd_up(args: argparse.Namespace) -> int:
    from oms.services import manager

    settings, root = _settings(args)
    state_path = _state_path(args)
    _refuse_supervisord(state_path)
    if args.foreground:
        return manager.keep(settings, root)
    t0 = time.monotonic()
    state, secs = manager.up(settings, root)
    rows = manager.status(state_path)
    print(_table(rows))
    if secs == 0.0:
        print(f"already up (keeper pid {state['keeper_pid']}); state in {state_path}")
    else:
        print(
            f"up in {time.monotonic() - t0:.2f} s (keeper pid {state['keeper_pid']}); state in {state_path}"
        )
    return 0 if rows and all(r["healthy"] for r in rows) else 1


def cmd_status(args: argparse.Namespace) -> int:
    from oms.services import manager

    state_path = _state_path(args)
    rows = manager.status(state_path)
    if args.json:
        print(json.dumps(rows, indent=2))
    elif not rows:
        print(f"services are not up (no {state_path}); start them with `oms services up`")
    else:
        print(_table(rows))
    if not rows:
        return 3
    return 0 if all(r["healthy"] for r in rows) else 1


def cmd_down(args: argparse.Namespace) -> int:
    from oms.services import manager

    state_path = _state_path(args)
    _refuse_supervisord(state_path)
    t0 = time.monotonic()
    done = manager.down(state_path)
    if not done:
        print("services were not up")
    else:
        print("; ".join(done) + f"; all ports free ({time.monotonic() - t0:.2f} s)")
    return 0


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("services", help="start/stop/inspect the local NATS, Postgres, Redis, OpenBao")
    p.set_defaults(func=lambda a: (p.print_help(), 2)[1])
    ss = p.add_subparsers(dest="services_cmd", metavar="ACTION")
    for name, func, text in (
        ("up", cmd_up, "start all configured services (detached) and wait until they answer"),
        ("status", cmd_status, "show each service with a real health probe"),
        ("down", cmd_down, "stop them; check no process or port is left"),
    ):
        q = ss.add_parser(name, help=text, description=text)
        q.add_argument("--config", default=None, help="oms.toml (default: $OMS_CONFIG or configs/oms.toml)")
        q.set_defaults(func=func)
        if name == "up":
            q.add_argument("--foreground", action="store_true", help="run the keeper here (Ctrl-C stops)")
        if name == "status":
            q.add_argument("--json", action="store_true", help="print the rows as JSON")
