"""CLI room (backtest): `oms tape synth|record|info` — write, record and inspect backtest tapes.

Touches only the tape file it writes and, for `record`, one MARKET ring it attaches to as the ring's
one consumer (SPSC): record from a stack without the marketdata process, or from a ring nothing
else consumes.
"""

from __future__ import annotations

import argparse
import json

from oms.errors import ConfigError


def _instrument(args: argparse.Namespace) -> list:
    from oms.backtest.tape import TapeInstrument

    if not args.instrument_json:
        return [TapeInstrument(id=args.instrument)]
    try:
        items = json.loads(args.instrument_json)
    except ValueError as e:
        raise ConfigError(f"--instruments-json is not JSON ({e}); give a list of objects") from None
    if not isinstance(items, list):
        raise ConfigError("--instruments-json must be a JSON list of instrument objects")
    return [TapeInstrument.from_dict(d, "--instruments-json") for d in items]


def _synth(args: argparse.Namespace) -> int:
    from oms.backtest import tape as T

    recs = T.synth(
        args.records,
        seed=args.seed,
        instrument=args.instrument,
        start_px=args.start_px,
        spread=args.spread,
        step_ns=args.step_us * 1000,
        trade_every=args.trade_every,
    )
    n = T.write(args.out, recs, _instrument(args), source="synth", seed=args.seed)
    print(f"wrote {n} records to {args.out} (seed {args.seed})")
    return 0


def _record(args: argparse.Namespace) -> int:
    from oms.backtest import tape as T

    if args.seconds <= 0:
        raise ConfigError(f"--seconds {args.seconds} must be > 0")
    recs = T.record(args.ring, seconds=args.seconds, max_records=args.max_records)
    n = T.write(args.out, recs, _instrument(args), source=f"ring:{args.ring}")
    print(f"recorded {n} records from ring {args.ring} to {args.out}")
    return 0


def _info(args: argparse.Namespace) -> int:
    from oms.backtest import tape as T
    from oms.shm import records as R

    t = T.read(args.tape)
    r = t.records
    kinds: dict[str, int] = {}
    for k in r["kind"]:
        name = R.KIND_NAMES.get(int(k), str(int(k)))
        kinds[name] = kinds.get(name, 0) + 1
    out = {
        "records": len(r),
        "kinds": kinds,
        "instruments": [i.id for i in t.instruments],
        "first_ts_ns": int(r["ts_ns"][0]) if len(r) else 0,
        "last_ts_ns": int(r["ts_ns"][-1]) if len(r) else 0,
        "meta": t.meta,
    }
    print(json.dumps(out, indent=None if args.json else 2))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("tape", help="write, record and inspect backtest tapes (MARKET records)")
    ts = p.add_subparsers(dest="tape_cmd", metavar="ACTION", required=True)

    def inst_args(q: argparse.ArgumentParser) -> None:
        q.add_argument("--instrument", type=int, default=1, help="instrument id of the records (default 1)")
        q.add_argument(
            "--instruments-json",
            dest="instrument_json",
            default="",
            help='tape meta: [{"id":1,"symbol":"BTCUSDT","tick_size":"0.01","lot_size":"0.00001",'
            '"maker_fee":"0.0001","taker_fee":"0.0004"}]',
        )

    s = ts.add_parser("synth", help="write a seeded synthetic tape (random walk BBO + trades)")
    s.add_argument("--out", required=True)
    s.add_argument("--records", type=int, default=100_000)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--start-px", type=int, default=5_000_000, help="start price in ticks")
    s.add_argument("--spread", type=int, default=2, help="spread in ticks")
    s.add_argument("--step-us", type=int, default=1000, help="time between records in microseconds")
    s.add_argument("--trade-every", type=int, default=4, help="every Nth record is a trade")
    inst_args(s)
    s.set_defaults(func=_synth)

    r = ts.add_parser("record", help="record a live MARKET ring (attaches as its one SPSC consumer)")
    r.add_argument("--ring", required=True, help="ring name, e.g. oms.conn.binance.md")
    r.add_argument("--out", required=True)
    r.add_argument("--seconds", type=float, default=10.0)
    r.add_argument("--max-records", type=int, default=10_000_000)
    inst_args(r)
    r.set_defaults(func=_record)

    i = ts.add_parser("info", help="header, record kinds and time span of a tape")
    i.add_argument("tape")
    i.add_argument("--json", action="store_true")
    i.set_defaults(func=_info)
