"""Benchmark: does CPU affinity pay? The ring hop and the engine's tick-to-order, each run pinned to two
separate cores and unpinned (left to the scheduler), in the same run, side by side.

Touches: rings it creates and removes in /dev/shm (prefix bench.aff.<pid>.), engine rings of a unique
prefix, and the CPU affinity of its own child processes and threads. Reuses the kernels and plumbing of
bench/ring.py (ring_ping/ring_pong, ring_rate_send/ring_rate_recv, _run_pair, _hist) and
bench/engine.py (bench_tick_to_order) rather than copying them.

Measurements (HDR p50 / p99 / p99.9 / max, ns):
- ring ping-pong: round trip / 2 between two processes over two rings;
- ring one-way at a constant offered rate (--rate): latency from each record's *scheduled* send time, so
  a stall shows in the tail (no coordinated omission);
- engine tick-to-order: engine loop thread + driver thread (bench/engine.py phase 3), offered --t2o-rate.
Each measurement runs unpinned, then pinned (producer/engine on the first core of the plan, consumer/
driver on the second), --repeats times interleaved; the figures are over all samples of each mode. The
first 10% of ring samples and --warmup ticks are excluded (warm-up).

The plan is --cores (default: the engine's and conn-binance's cores of configs/oms.toml's core plan).
On a machine without those cores oms.pinning maps them onto cores that exist, and the output says what
could and could not be compared: with one usable core nothing separate can be pinned; with cores that
are not isolated (no isolcpus) the pinned run still shares its cores with every other process.

    .venv/bin/python bench/affinity.py [--pingpong 20000] [--oneway 20000] [--rate 100000]
                                       [--ticks 2000] [--t2o-rate 2000] [--cores 2,4] [--json]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from oms import pinning  # noqa: E402
from oms.shm.ring import Ring  # noqa: E402


def _load(name: str) -> ModuleType:
    """bench/<name>.py as a module (bench/ is a folder of scripts, not a package)."""
    spec = importlib.util.spec_from_file_location(f"bench_{name}", HERE / f"{name}.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


RB = _load("ring")
EB = _load("engine")
QUANTILES = ("p50", "p99", "p99_9", "max")


def _q(h: dict[str, Any]) -> dict[str, float]:
    """One shape for both benches' HDR dicts (ring says p999, engine says p99_9)."""
    return {
        "p50": h["p50"],
        "p99": h["p99"],
        "p99_9": h.get("p99_9", h.get("p999")),
        "max": h["max"],
        "n": h.get("n", h.get("count", 0)),
    }


def ring_pingpong(prefix: str, n: int) -> np.ndarray:
    a = Ring.create(prefix + "pa", RB.REC, 4096)
    b = Ring.create(prefix + "pb", RB.REC, 4096)
    try:

        def ping() -> np.ndarray:
            rtt = np.zeros(n, np.int64)
            RB.ring_ping(a.ctrl, a.buf, b.ctrl, b.buf, n, np.zeros(1, RB.REC), np.zeros(1, RB.REC), rtt)
            return rtt // 2

        def pong() -> None:
            RB.ring_pong(a.ctrl, a.buf, b.ctrl, b.buf, n, np.zeros(1, RB.REC))

        rtt = RB._run_pair(pong, ping)
        return rtt[len(rtt) // 10 :]  # warm-up excluded
    finally:
        for r in (a, b):
            r.close()
            r.unlink()


def ring_oneway(prefix: str, n: int, hz: int) -> np.ndarray:
    a = Ring.create(prefix + "oa", RB.REC, 4096)
    period = max(1, 1_000_000_000 // hz)
    try:

        def prod() -> None:
            RB.ring_rate_send(a.ctrl, a.buf, n, period, np.zeros(1, RB.REC))

        def cons() -> np.ndarray:
            lat = np.zeros((2, n), np.int64)
            RB.ring_rate_recv(a.ctrl, a.buf, n, np.zeros(1, RB.REC), lat)
            return lat

        lat = RB._run_pair(prod, cons)
        return lat[0][n // 10 :]  # from the scheduled send time; warm-up excluded
    finally:
        a.close()
        a.unlink()


def tick_to_order(ticks: int, rate: int, warm: int, cores: tuple[int, int] | None) -> dict[str, Any]:
    return EB.bench_tick_to_order(ticks, rate, warm, cores=cores)


def _merge_hdr(chunks: list[np.ndarray]) -> dict[str, float]:
    """One HDR over every run's samples (each run's warm-up already cut)."""
    return _q(EB.hdr(np.concatenate(chunks)))


def what_compares(plan: dict[str, pinning.Placement], wanted: tuple[int, int]) -> dict[str, list[str]]:
    """What this machine lets the run compare, in words."""
    a, b = plan["first"].core, plan["second"].core
    avail = pinning.available_cores()
    compared: list[str] = []
    not_compared: list[str] = []
    if a == b:
        not_compared.append(
            f"pinned to separate cores: only core {a} is usable here ({len(avail)} core(s)); the 'pinned' "
            "figures are both sides on one core, compared with the scheduler's choice"
        )
    else:
        compared.append(f"two separate pinned cores ({a}, {b}) against the scheduler's choice")
    if (a, b) != wanted:
        not_compared.append(
            f"the plan's cores {wanted[0]},{wanted[1]}: this machine has cores {avail}, so the run used "
            f"{a},{b} (oms.pinning's best-effort mapping)"
        )
    try:
        isolated = Path("/sys/devices/system/cpu/isolated").read_text().strip()
    except OSError:
        isolated = ""
    if not isolated:
        not_compared.append(
            "isolated cores (isolcpus/nohz_full): none here, so pinned threads still share their cores with "
            "every other process on the machine"
        )
    if len(avail) <= 2:
        not_compared.append(
            "a quiet machine: with <= 2 cores the pinned pair occupies every core, so anything else running "
            "(other tenants, the unpinned run's leftovers) lands on the measured cores"
        )
    return {"compared": compared, "not_compared": not_compared}


def default_plan() -> tuple[int, int]:
    """The engine's and conn-binance's cores of the configured core plan (2 and 4 in the reference)."""
    try:
        from oms.config import load

        cm = load(None).core_map()
        e, c = cm.get("engine"), cm.get("conn-binance")
        if e is not None and c is not None and e != c:
            return int(e), int(c)
    except Exception:  # a bench without a readable config still runs with the reference plan
        pass
    return 2, 4


def run(a: argparse.Namespace) -> dict[str, Any]:
    wanted = a.cores
    plan = pinning.plan({"first": wanted[0], "second": wanted[1]})
    pinned = (plan["first"].core, plan["second"].core)
    prefix = f"bench.aff.{os.getpid()}."
    RB._compile_kernels(prefix)
    samples: dict[str, dict[str, list[np.ndarray]]] = {
        k: {"pinned": [], "unpinned": []} for k in ("ring_pingpong_half", "ring_oneway", "tick_to_order")
    }
    t2o: dict[str, list[dict[str, Any]]] = {"pinned": [], "unpinned": []}
    for _ in range(a.repeats):
        for mode in ("unpinned", "pinned"):
            RB._PLACE.clear()
            if mode == "pinned":
                RB._PLACE.update({"producer": pinned[0], "consumer": pinned[1]})
            samples["ring_pingpong_half"][mode].append(ring_pingpong(prefix, a.pingpong))
            samples["ring_oneway"][mode].append(ring_oneway(prefix, a.oneway, a.rate))
            cores = pinned if mode == "pinned" else None
            t2o[mode].append(tick_to_order(a.ticks, a.t2o_rate, a.warmup, cores))
    RB._PLACE.clear()
    out: dict[str, Any] = {
        "plan": {"wanted": list(wanted), "used": list(pinned), "available_cores": pinning.available_cores()},
        "sizes": {
            "pingpong": a.pingpong,
            "oneway": a.oneway,
            "oneway_rate_hz": a.rate,
            "ticks": a.ticks,
            "t2o_rate_per_s": a.t2o_rate,
            "warmup_ticks": a.warmup,
            "repeats": a.repeats,
        },
        "warmup": "first 10% of ring samples and --warmup ticks excluded",
        "loadavg": list(os.getloadavg()),
        **what_compares(plan, wanted),
    }
    res: dict[str, Any] = {}
    for key in ("ring_pingpong_half", "ring_oneway"):
        res[key] = {mode: _merge_hdr(samples[key][mode]) for mode in ("pinned", "unpinned")}
    # tick-to-order: each repeat's HDR over its own ticks; with one repeat that is the figure, with more
    # the worst of each quantile (the engine bench does not hand out raw samples)
    res["tick_to_order"] = {
        mode: {q: max(r["latency_ns"][q] for r in t2o[mode]) for q in QUANTILES}
        | {"n": sum(r["ticks"] for r in t2o[mode])}
        for mode in ("pinned", "unpinned")
    }
    for v in res.values():
        v["ratio_p99_unpinned_over_pinned"] = v["unpinned"]["p99"] / max(1, v["pinned"]["p99"])
    out["measurements"] = res
    return out


def print_table(out: dict[str, Any]) -> None:
    p = out["plan"]
    print(
        f"CPU affinity: pinned to cores {p['used'][0]},{p['used'][1]} "
        f"(plan {p['wanted'][0]},{p['wanted'][1]}; available {p['available_cores']}), "
        f"load average {out['loadavg'][0]:.1f}"
    )
    head = "  ".join(f"{q:>11}" for q in QUANTILES)
    print(f"{'measurement (ns)':<24}{'pinned':^50}|{'unpinned':^50}| p99 unpinned/pinned")
    print(f"{'':<24}{head}  |{head}  |")
    for name, v in out["measurements"].items():
        pin = "  ".join(f"{v['pinned'][q]:>11,.0f}" for q in QUANTILES)
        unp = "  ".join(f"{v['unpinned'][q]:>11,.0f}" for q in QUANTILES)
        print(f"{name:<24}{pin}  |{unp}  | {v['ratio_p99_unpinned_over_pinned']:.2f}x")
    s = out["sizes"]
    print(
        f"({s['pingpong']} ping-pongs, {s['oneway']} one-way records at {s['oneway_rate_hz']}/s, "
        f"{s['ticks']} ticks at {s['t2o_rate_per_s']}/s, x{s['repeats']}; {out['warmup']})"
    )
    for line in out["compared"]:
        print(f"compared: {line}")
    for line in out["not_compared"]:
        print(f"not compared: {line}")


def _cores(text: str) -> tuple[int, int]:
    try:
        a, b = (int(x) for x in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--cores {text!r} must be two core numbers like 2,4") from None
    if a == b or min(a, b) < 0:
        raise argparse.ArgumentTypeError(f"--cores {text!r} must name two different cores >= 0")
    return a, b


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pingpong", type=int, default=20_000, help="ping-pong round trips per run")
    ap.add_argument("--oneway", type=int, default=20_000, help="one-way records per run")
    ap.add_argument("--rate", type=int, default=100_000, help="one-way offered rate, records/s")
    ap.add_argument("--ticks", type=int, default=2_000, help="tick-to-order ticks per run")
    ap.add_argument("--t2o-rate", type=int, default=2_000, help="tick-to-order offered rate, ticks/s")
    ap.add_argument("--warmup", type=int, default=200, help="tick-to-order warm-up ticks (excluded)")
    ap.add_argument("--repeats", type=int, default=1, help="unpinned/pinned pairs, interleaved")
    ap.add_argument("--cores", type=_cores, default=None, help="the two cores of the plan (default: config)")
    ap.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    a = ap.parse_args(argv)
    for k in ("pingpong", "oneway", "rate", "ticks", "t2o_rate", "repeats"):
        if getattr(a, k) <= 0:
            ap.error(f"--{k.replace('_', '-')} must be > 0")
    if a.pingpong < 10 or a.oneway < 10:
        ap.error("--pingpong and --oneway must be >= 10 (the first 10% are warm-up)")
    a.cores = a.cores or default_plan()
    out = run(a)
    if a.json:
        print(json.dumps(out, default=float))
    else:
        print_table(out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
