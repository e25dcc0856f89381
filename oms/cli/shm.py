"""CLI room, shm group: `oms shm ls` lists shared-memory segments, `oms shm gc` removes dead ones.

Touches only /dev/shm entries that carry the oms segment header (oms/shm/segment.py); `gc` removes a
segment only when its creator and every registered party (ring producer/consumer, table writer) is gone,
so a running stack is never broken. Foreign files in /dev/shm are listed with `--all` and never removed,
except the connectors' rate-budget files (`oms.rl.<hash>`, oms/conn/ratelimit.py) with `--rate-budgets`:
one is removed when no live process has it open or mapped (a budget only counts the venue's current
window; the next connector re-learns the count from the venue's headers on its first answer).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os

from oms.shm import ring, segment


def _rows(prefix: str, include_foreign: bool) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    for info in segment.scan(prefix, include_foreign=include_foreign):
        depth: int | None = ring.depth_of(info.ctrl) if info.kind == "ring" else None
        out.append(
            {
                "name": info.name,
                "kind": info.kind,
                "dtype": info.label,
                "capacity": info.capacity,
                "depth": depth,
                "bytes": info.size,
                "creator": info.creator_pid,
                "producer": info.writer_pid,
                "consumer": info.reader_pid,
                "heartbeat_age_s": None if info.heartbeat_age_s is None else round(info.heartbeat_age_s, 3),
                "alive": info.alive if info.ours else None,
            }
        )
    return out


def _ls(args: argparse.Namespace) -> int:
    rows = _rows(args.prefix, args.all)
    if args.json:
        print(json.dumps({"segments": rows}))
        return 0
    if not rows:
        print(
            f"no oms segments in {segment.SHM_DIR}" + (f" with prefix {args.prefix!r}" if args.prefix else "")
        )
        return 0
    head = (
        "name",
        "kind",
        "dtype",
        "capacity",
        "depth",
        "creator",
        "producer",
        "consumer",
        "beat_age",
        "alive",
    )
    table = [head]
    for r in rows:
        age = r["heartbeat_age_s"]
        table.append(
            (
                str(r["name"]),
                str(r["kind"]),
                str(r["dtype"]),
                str(r["capacity"]),
                "-" if r["depth"] is None else str(r["depth"]),
                str(r["creator"]),
                str(r["producer"] or "-"),
                str(r["consumer"] or "-"),
                "-" if age is None else f"{age:.1f}s",
                {True: "yes", False: "DEAD", None: "?"}[r["alive"]],  # type: ignore[index]
            )
        )
    widths = [max(len(row[i]) for row in table) for i in range(len(head))]
    for row in table:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    return 0


def _gc(args: argparse.Namespace) -> int:
    removed = kept = 0
    for info in segment.scan(args.prefix):
        if info.alive:
            kept += 1
            continue
        if args.dry_run:
            print(
                f"would remove {info.name} ({info.kind} of {info.label}, creator pid {info.creator_pid} gone)"
            )
        elif segment.unlink(info.name):
            print(f"removed {info.name} ({info.kind} of {info.label}, creator pid {info.creator_pid} gone)")
        removed += 1
    verb = "would remove" if args.dry_run else "removed"
    print(f"{verb} {removed} dead segment(s), kept {kept} in use")
    _gc_budgets(args)
    return 0


RATE_BUDGET_PREFIX = "oms.rl."


def _held_paths(directory: str = segment.SHM_DIR) -> set[str]:
    """Every path under `directory` some live process has open (fd) or mapped (maps), as /proc shows."""
    held: set[str] = set()
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        with contextlib.suppress(OSError):
            for fd in os.listdir(f"/proc/{pid}/fd"):
                with contextlib.suppress(OSError):
                    target = os.readlink(f"/proc/{pid}/fd/{fd}")
                    if target.startswith(directory):
                        held.add(target.removesuffix(" (deleted)"))
        with contextlib.suppress(OSError), open(f"/proc/{pid}/maps") as fh:
            for line in fh:
                i = line.find(directory)
                if i >= 0:
                    held.add(line[i:].rstrip("\n").removesuffix(" (deleted)"))
    return held


def gc_rate_budgets(dry_run: bool = False, directory: str = segment.SHM_DIR) -> list[str]:
    """Remove the rate-budget files no live process holds; returns their names."""
    try:
        names = [n for n in os.listdir(directory) if n.startswith(RATE_BUDGET_PREFIX)]
    except FileNotFoundError:
        return []
    if not names:
        return []
    held = _held_paths(directory)
    out = []
    for n in names:
        path = os.path.join(directory, n)
        if path in held:
            continue
        if not dry_run:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
        out.append(n)
    return out


def _gc_budgets(args: argparse.Namespace) -> None:
    if not args.rate_budgets:
        return
    gone = gc_rate_budgets(args.dry_run)
    verb = "would remove" if args.dry_run else "removed"
    print(f"{verb} {len(gone)} unheld rate-budget file(s)" + (f": {', '.join(gone)}" if gone else ""))


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("shm", help="inspect and clean shared-memory rings and tables (/dev/shm)")
    ssub = p.add_subparsers(dest="shm_command", metavar="SUBCOMMAND", required=True)
    ls = ssub.add_parser("ls", help="list segments: name, kind, capacity, depth, creator, alive")
    ls.add_argument("--prefix", default="", help="only names starting with this (e.g. 'oms.')")
    ls.add_argument("--all", action="store_true", help="also list foreign (non-oms) files in /dev/shm")
    ls.add_argument("--json", action="store_true", help="print one JSON object")
    ls.set_defaults(func=_ls)
    gc = ssub.add_parser("gc", help="remove segments whose creator and every party are dead")
    gc.add_argument("--prefix", default="", help="only names starting with this")
    gc.add_argument("--dry-run", action="store_true", help="say what would be removed, remove nothing")
    gc.add_argument(
        "--rate-budgets",
        action="store_true",
        help="also remove rate-budget files (oms.rl.*) no process holds",
    )
    gc.set_defaults(func=_gc)
