"""CLI room (backtest): `oms backtest run --tape FILE --strategy module:Class` replays a tape through the
engine kernels, the strategy and the simulated venue and prints the report (table, or `--json`).

Touches only the tape and the optional risk file it reads.
"""

from __future__ import annotations

import argparse
import importlib
import json
import tomllib

from oms.errors import ConfigError


def load_strategy(text: str, params: list[str]) -> object:
    mod_name, sep, cls_name = text.partition(":")
    if not sep or not mod_name or not cls_name:
        raise ConfigError(
            f"--strategy {text!r} must be module:Class, e.g. oms.backtest.strategies:MovingAverageCross"
        )
    try:
        mod = importlib.import_module(mod_name)
    except ImportError as e:
        raise ConfigError(f"--strategy {text!r}: cannot import module {mod_name!r} ({e})") from None
    cls = getattr(mod, cls_name, None)
    if cls is None:
        raise ConfigError(f"--strategy {text!r}: module {mod_name!r} has no {cls_name!r}")
    kw: dict[str, object] = {}
    for p in params:
        k, eq, v = p.partition("=")
        if not eq or not k:
            raise ConfigError(f"--param {p!r} must be NAME=VALUE, e.g. --param fast=10")
        for conv in (int, float):
            try:
                kw[k] = conv(v)
                break
            except ValueError:
                kw[k] = v
    try:
        return cls(**kw)
    except (TypeError, ValueError) as e:
        raise ConfigError(f"--strategy {text!r} with params {kw}: {e}") from None


def load_risk(path: str) -> object:
    import msgspec

    from oms.engine import settings as ES

    try:
        with open(path, "rb") as f:
            doc = tomllib.load(f)
    except OSError as e:
        raise ConfigError(f"--risk {path}: cannot read ({e.strerror})") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"--risk {path}: not TOML ({e})") from None
    section = doc.get("risk", doc)
    try:
        st = msgspec.convert(section, ES.Settings)
    except msgspec.ValidationError as e:
        raise ConfigError(f"--risk {path} [risk]: {e}") from None
    bad = ES.validate(st)
    if bad:
        key, value, must = bad[0]
        raise ConfigError(f"--risk {path} [risk].{key} = {value!r} {must}")
    return st


def _run(args: argparse.Namespace) -> int:
    from oms.backtest import tape as T
    from oms.backtest.runner import Backtest, Config

    tape = T.read(args.tape)
    strat = load_strategy(args.strategy, args.param or [])
    cfg = Config(
        account=args.account,
        seed=args.seed,
        latency=args.latency or [],
        slippage_ticks=args.slippage,
        touch=args.touch,
        risk=load_risk(args.risk) if args.risk else None,
    )
    rep = Backtest(tape, strat, cfg).run()  # type: ignore[arg-type]
    if args.json:
        print(json.dumps(rep.to_dict(), sort_keys=True))
    else:
        print(rep.table())
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("backtest", help="replay a tape through the engine, a strategy and a simulated venue")
    bs = p.add_subparsers(dest="backtest_cmd", metavar="ACTION", required=True)
    r = bs.add_parser("run", help="run one backtest and print its report")
    r.add_argument("--tape", required=True, help="tape file (oms tape synth|record)")
    r.add_argument(
        "--strategy", required=True, help="module:Class, e.g. oms.backtest.strategies:QuotingMarketMaker"
    )
    r.add_argument("--param", action="append", help="strategy constructor argument NAME=VALUE (repeatable)")
    r.add_argument(
        "--latency",
        action="append",
        help="LEG=SPEC, LEG in strategy|to_venue|from_venue|all; SPEC const:250us, normal:1ms,200us, "
        "lognormal:1ms,0.5, empirical:FILE|1ms,2ms (repeatable)",
    )
    r.add_argument("--seed", type=int, default=0, help="seed of the latency models")
    r.add_argument("--slippage", type=int, default=0, help="market-order slippage in ticks")
    r.add_argument(
        "--touch", action="store_true", help="resting orders fill when the tape touches their price"
    )
    r.add_argument("--account", type=int, default=1)
    r.add_argument("--risk", default="", help="TOML file with a [risk] section (oms.engine.settings)")
    r.add_argument("--json", action="store_true", help="print one JSON object")
    r.set_defaults(func=_run)
