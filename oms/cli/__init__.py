"""CLI room: the `oms` command. Each command group is a module in this package.

A module `oms/cli/<group>.py` defines `register(sub: argparse._SubParsersAction) -> None`, which adds
its parser(s) and sets `func` (a callable taking the parsed `Namespace` and returning an exit code).
Modules are discovered with pkgutil, so adding a group never edits this file. A user mistake is an
`OmsError` and is printed as one clear line with exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Sequence

from oms import __version__, log
from oms.errors import OmsError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="oms",
        description="Multi-exchange crypto order management system.",
    )
    parser.add_argument("--version", action="version", version=f"oms {__version__}")
    parser.add_argument("--json-logs", action="store_true", help="log as JSON lines")
    parser.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING, ERROR")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for mod in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if mod.name.startswith("_"):
            continue
        try:
            module = importlib.import_module(f"{__name__}.{mod.name}")
        except Exception as e:  # one broken group must not take every other command down
            _broken_group(sub, mod.name, e)
            continue
        register = getattr(module, "register", None)
        if register is not None:
            register(sub)
    return parser


def _broken_group(sub: argparse._SubParsersAction, name: str, err: Exception) -> None:
    """Register `name` as a command that explains why it cannot run (e.g. generated code not built)."""
    why = f"{type(err).__name__}: {err}"
    hint = " (run `make install` to build generated code)" if "oms.api.gen" in why else ""
    p = sub.add_parser(name, help=f"unavailable: {why}{hint}"[:120], add_help=False)
    p.add_argument("rest", nargs=argparse.REMAINDER)

    def _fail(_args: argparse.Namespace) -> int:
        raise OmsError(f"command group {name!r} cannot load: {why}{hint}")

    p.set_defaults(func=_fail)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    log.setup(json_lines=args.json_logs, level=args.log_level)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 0 if args.command is None else 2
    try:
        rc = func(args)
    except OmsError as e:
        print(f"oms: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return int(rc or 0)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
