"""CLI room: `oms config check [PATH]` — validate the configuration and print it resolved.

Touches only the files and environment variables the loader reads. Exit 0 when valid; a bad config
prints every problem (file, key, value, fix) and exits 2. Secrets are masked in the output.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from oms.config.loader import toml_repr


def _is_table(v: Any) -> bool:
    return isinstance(v, dict)


def _is_table_array(v: Any) -> bool:
    return isinstance(v, list) and bool(v) and all(isinstance(x, dict) for x in v)


def to_toml(data: dict[str, Any], prefix: str = "") -> str:
    """A small TOML writer for the resolved config (tables, arrays of tables, scalars)."""
    out: list[str] = []
    scalars = {  # TOML has no null: an unset key (None) is left out, which is how it was written
        k: v for k, v in data.items() if v is not None and not _is_table(v) and not _is_table_array(v)
    }
    if prefix and (scalars or not data):
        out.append(f"[{prefix}]")
    for k, v in scalars.items():
        out.append(f"{_key(k)} = {toml_repr(v)}")
    if scalars or (prefix and not data):
        out.append("")
    for k, v in data.items():
        name = f"{prefix}.{_key(k)}" if prefix else _key(k)
        if _is_table(v):
            out.append(to_toml(v, name))
        elif _is_table_array(v):
            for item in v:
                out.append(f"[[{name}]]")
                out.extend(f"{_key(ik)} = {toml_repr(iv)}" for ik, iv in item.items() if iv is not None)
                out.append("")
    return "\n".join(line for line in out if line is not None)


def _key(k: object) -> str:
    k = str(k)  # int keys (e.g. instrument ids) are TOML strings
    return k if k.replace("_", "").replace("-", "").isalnum() else toml_repr(k)


def cmd_check(args: argparse.Namespace) -> int:
    from oms import pinning
    from oms.config import load

    cfg = load(args.path)
    data = cfg.to_builtins(redact=True)
    if args.json:
        print(json.dumps(data, indent=2, default=str))
        return 0
    print(f"# config: {cfg.path or '(built-in defaults)'}   root: {cfg.root}")
    for var, key in sorted(cfg.overrides.items()):
        print(f"# override: {var} -> {key}")
    for room, err in sorted(cfg.skipped_rooms.items()):
        print(f"# warning: oms/{room}/settings.py did not import ({err}); [{room}] unchecked")
    plan = pinning.plan(cfg.core_map())
    cores = ", ".join(
        f"{p.program}={'-' if p.core is None else p.core}"
        + ("" if p.core == p.wanted else f" (wanted {p.wanted})")
        for p in plan.values()
    )
    print(f"# cores on this machine {pinning.available_cores()}: {cores}")
    names = [n if x.enabled else f"{n} (disabled)" for n, x in cfg.exchanges.items()]
    print(f"# exchanges: {', '.join(names) or 'none'}")
    print()
    print(to_toml(data).rstrip())
    print("\n# OK: configuration is valid")
    return 0


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("config", help="validate and print the configuration")
    p.set_defaults(func=lambda a: (p.print_help(), 2)[1])
    cs = p.add_subparsers(dest="config_cmd", metavar="ACTION")
    q = cs.add_parser(
        "check", help="validate configs/oms.toml (or PATH) and the exchange files; print resolved"
    )
    q.add_argument(
        "path", nargs="?", default=None, help="oms.toml (default: $OMS_CONFIG or configs/oms.toml)"
    )
    q.add_argument("--json", action="store_true", help="print the resolved config as JSON")
    q.set_defaults(func=cmd_check)
