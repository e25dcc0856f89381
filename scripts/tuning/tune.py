#!/usr/bin/env python3
"""Tuning room: the whole host-tuning profile in one entry — check it as a table, apply or undo it as a whole.

Touches what the per-area scripts next to it touch (it runs their items through the shared driver in
_tuning.py) and var/tuning/tune.json, where the prior value of every setting it changes is saved first.
Areas, in order: boot parameters (isolcpus / nohz_full / rcu_nocbs, cpu_isolation.py), IRQ affinity
away from the trading cores (irq_affinity.py), CPU governor (cpu_governor.py), C-states (cstates.py),
hugepages (hugepages.py), NIC interrupt coalescing (nic_coalescing.py) and sysctls (sysctl.py).

    .venv/bin/python scripts/tuning/tune.py            # = --check: table of area, setting, wanted, actual
    .venv/bin/python scripts/tuning/tune.py --dry-run  # what --apply would write or run; changes nothing
    sudo .venv/bin/python scripts/tuning/tune.py --apply   # everything, prior values saved
    sudo .venv/bin/python scripts/tuning/tune.py --undo    # restore what --apply changed

--check exits 1 when a setting differs (0 when all that exist here match); --sysroot DIR acts on a file
tree instead of / (tests, image preparation). Boot parameters are advice only: apply writes the GRUB
drop-in, and they take effect after update-grub and a reboot.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from types import ModuleType

import _tuning
import cpu_governor
import cpu_isolation
import cstates
import hugepages
import irq_affinity
import nic_coalescing
import sysctl
from _tuning import Ctx, Item, NotAvailable

AREAS: list[tuple[str, ModuleType]] = [
    ("boot", cpu_isolation),
    ("irq", irq_affinity),
    ("governor", cpu_governor),
    ("cstates", cstates),
    ("hugepages", hugepages),
    ("nic", nic_coalescing),
    ("sysctl", sysctl),
]
NAME = "tune"


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="scripts/tuning/tune.py", description=__doc__.splitlines()[0])
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help="table of every setting (the default)")
    mode.add_argument("--dry-run", action="store_true", help="print what --apply would do; change nothing")
    mode.add_argument("--apply", action="store_true", help="apply the whole profile (root)")
    mode.add_argument("--undo", action="store_true", help="restore the values saved by --apply (root)")
    p.add_argument("--sysroot", default="/", help="act on a file tree under this dir instead of /")
    p.add_argument("--state-dir", default=str(_tuning.ROOT / "var" / "tuning"), help="save file dir")
    for _, mod in AREAS:  # each area's own options (--pages, --iface, --max-latency-us)
        extra = getattr(mod, "extra", None)
        if extra is not None:
            extra(p)
    return p.parse_args(argv)


def profile(ctx: Ctx, args: argparse.Namespace) -> tuple[list[tuple[str, Item]], list[str]]:
    """(area, item) for every setting of every area, and the areas' notes."""
    items: list[tuple[str, Item]] = []
    notes: list[str] = []
    for area, mod in AREAS:
        items += [(area, it) for it in mod.items(ctx, args)]
        notes_fn = getattr(mod, "notes", None)
        if notes_fn is not None:
            notes += [f"{area}: {n}" for n in notes_fn(args)]
    return items, notes


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def table(items: list[tuple[str, Item]], dry: bool) -> int:
    """Print area | setting | wanted | actual | state; returns how many differ."""
    head = f"{'area':<10} {'setting':<44} {'wanted':<26} {'actual':<26} state"
    print(head)
    print("-" * len(head))
    differ = 0
    for area, it in items:
        try:
            cur = it.read()
        except NotAvailable as e:
            print(f"{area:<10} {_cut(it.key, 44):<44} {_cut(it.wanted, 26):<26} {'-':<26} n/a: {e}")
            continue
        cur = " ".join(cur.split())  # tcp_rmem and friends are tab-separated
        ok = it.matches(cur)
        differ += not ok
        state = "ok" if ok else "DIFFERS"
        if not ok and dry:
            state = "would: " + (it.describe if it.write else f"(advice only) {it.advice}")
        elif not ok and it.advice:
            state += f" ({it.advice})"
        print(f"{area:<10} {_cut(it.key, 44):<44} {_cut(it.wanted, 26):<26} {_cut(cur, 26):<26} {state}")
    print(f"{differ} setting(s) differ" + (" (dry run: nothing changed)" if dry else ""))
    return differ


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    ctx = Ctx(Path(args.sysroot).absolute())
    if not ctx.path("/").is_dir():
        print(f"{NAME}: --sysroot {args.sysroot} is not a directory", file=sys.stderr)
        return 2
    items, notes = profile(ctx, args)
    for note in notes:
        print(f"note: {note}")
    keys = [it.key for _, it in items]
    dup = sorted({k for k in keys if keys.count(k) > 1})
    if dup:  # one save file for the whole profile: keys must be unique across areas
        print(f"{NAME}: settings named twice across areas: {', '.join(dup)}", file=sys.stderr)
        return 2
    save = Path(args.state_dir) / f"{NAME}.json"
    only = [it for _, it in items]
    if args.undo:
        return _tuning._undo(NAME, ctx, only, save)
    if args.apply:
        if ctx.real and os.geteuid() != 0:
            print(
                f"{NAME}: refusing to apply without root (euid {os.geteuid()}); run it with sudo, "
                "or use --check / --dry-run to see what it would change",
                file=sys.stderr,
            )
            return 2
        return _tuning._apply(NAME, only, save)
    differ = table(items, dry=args.dry_run)
    return 1 if differ and not args.dry_run else 0


if __name__ == "__main__":
    sys.exit(main())
