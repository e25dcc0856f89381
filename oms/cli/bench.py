"""CLI room: `oms bench` runs every bench/*.py with --json and prints one summary table.

Touches nothing but the benchmark processes it starts (one at a time, each with a time limit) and
stdout. `oms bench` runs them all; `oms bench ring` runs bench/ring.py only; `--json` prints the
collected results as one JSON object. A benchmark that fails or prints no JSON is reported as failed
with the tail of its stderr, and the exit code is 1.
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from oms.errors import Rejected

BENCH_DIR = Path(__file__).resolve().parents[2] / "bench"
FIGURE_KEYS = ("p50", "p99", "p999", "p99.9", "max", "thr", "throughput", "msgs_per_s", "ops_per_s", "rate")


def discover(bench_dir: Path = BENCH_DIR) -> dict[str, Path]:
    return {p.stem: p for p in sorted(bench_dir.glob("*.py")) if not p.name.startswith("_")}


def run_one(path: Path, timeout: float, extra: list[str]) -> dict[str, Any]:
    t0 = time.monotonic()
    try:
        r = subprocess.run(
            [sys.executable, str(path), "--json", *extra],
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=str(path.parent.parent),
        )
    except subprocess.TimeoutExpired:
        return {
            "ok": False,
            "seconds": round(time.monotonic() - t0, 1),
            "error": f"timed out after {timeout:.0f}s",
        }
    secs = round(time.monotonic() - t0, 1)
    if r.returncode != 0:
        return {"ok": False, "seconds": secs, "error": f"exit {r.returncode}: {r.stderr.strip()[-400:]}"}
    lines = [ln for ln in r.stdout.strip().splitlines() if ln.strip()]
    try:
        result = json.loads(lines[-1]) if lines else None
    except ValueError:
        result = None
    if not isinstance(result, dict):
        try:
            result = json.loads(r.stdout)
        except ValueError:
            return {"ok": False, "seconds": secs, "error": "printed no JSON object with --json"}
    return {"ok": True, "seconds": secs, "result": result}


SKIP_ROOTS = ("sizes", "machine", "config", "params", "args", "verdicts")


def headline(result: dict[str, Any], limit: int = 6) -> str:
    """The most telling figures of a result: ratios against the peer first, then latency percentiles,
    then rates (searched recursively; parameters such as `sizes` and `machine` are skipped)."""
    found: list[tuple[int, str]] = []

    def rank(path: str) -> int | None:
        low = path.lower()
        if "ratio" in low:
            return 0
        leaf = low.rsplit(".", 1)[-1]
        for i, key in enumerate(FIGURE_KEYS, start=1):
            if key in leaf:
                return i
        return None

    def walk(obj: Any, path: str) -> None:
        if isinstance(obj, dict):
            for k, v in obj.items():
                if not path and str(k) in SKIP_ROOTS:
                    continue
                walk(v, f"{path}.{k}" if path else str(k))
        elif isinstance(obj, int | float) and not isinstance(obj, bool):
            r = rank(path)
            if r is not None:
                found.append((r, f"{path}={obj:.4g}"))

    walk(result, "")
    found.sort(key=lambda t: t[0])  # stable: keeps document order within a rank
    return " ".join(f for _, f in found[:limit]) or "(see --json)"


def cmd_bench(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    benches = discover(Path(args.dir))
    if args.name:
        if args.name not in benches:
            raise Rejected(
                f"no benchmark {args.name!r} in {args.dir}; available: {', '.join(benches) or 'none'}"
            )
        benches = {args.name: benches[args.name]}
    if not benches:
        raise Rejected(f"no benchmarks found in {args.dir} (expected bench/<name>.py files)")
    timeout = args.timeout or 900.0
    results = {}
    for name, path in benches.items():
        if not args.json:
            print(f"running bench/{name}.py ...", file=sys.stderr, flush=True)
        results[name] = run_one(path, timeout, shlex.split(args.args))
    if args.json:
        print(json.dumps(results))
    else:
        t = Table(title="oms bench")
        for col in ("benchmark", "status", "seconds", "headline figures"):
            t.add_column(col)
        for name, r in results.items():
            status = "[green]ok[/]" if r["ok"] else "[red]FAILED[/]"
            figs = headline(r["result"]) if r["ok"] else r["error"]
            t.add_row(name, status, str(r["seconds"]), figs)
        Console().print(t)
    return 0 if all(r["ok"] for r in results.values()) else 1


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="run bench/*.py (or one) with --json and print a summary table")
    p.add_argument("name", nargs="?", help="run only bench/<name>.py")
    p.add_argument("--json", action="store_true", help="print every result as one JSON object")
    p.add_argument("--dir", default=str(BENCH_DIR), help="benchmark directory")
    p.add_argument("--timeout", type=float, default=None, help="seconds per benchmark (default 900)")
    p.add_argument("--args", default="", help="extra arguments for the benchmark(s), e.g. --args '--n 1000'")
    p.set_defaults(func=cmd_bench)
