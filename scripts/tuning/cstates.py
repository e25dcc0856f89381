#!/usr/bin/env python3
"""Tuning room: limit CPU idle states (C-states) so a waking core answers in microseconds, not tens.

Touches /sys/devices/system/cpu/cpu*/cpuidle/state*/disable and var/tuning/cstates.json: every idle
state whose exit latency exceeds --max-latency-us (default 10 µs) is disabled on every core. Also
advises the boot-time limit (intel_idle.max_cstate=1 processor.max_cstate=1) for a permanent setting.
"""

from __future__ import annotations

import sys

from _tuning import Ctx, Item, NotAvailable, file_item, main

from oms.pinning import available_cores


def items(ctx: Ctx, args: object) -> list[Item]:
    limit = int(getattr(args, "max_latency_us", 10))
    out: list[Item] = []
    for c in available_cores():
        base = ctx.path(f"/sys/devices/system/cpu/cpu{c}/cpuidle")
        states = sorted(base.glob("state*")) if base.is_dir() else []
        if not states:

            def missing(c: int = c) -> str:
                raise NotAvailable(f"cpu{c} exposes no cpuidle states (VM/container or idle=poll)")

            out.append(Item(f"cpu{c}/cpuidle", "limited", missing, None))
            continue
        for st in states:
            try:
                lat = int((st / "latency").read_text())
                name = (st / "name").read_text().strip()
            except (FileNotFoundError, ValueError):
                continue
            want = "1" if lat > limit else "0"
            it = file_item(ctx, f"/sys/devices/system/cpu/cpu{c}/cpuidle/{st.name}/disable", want)
            it.key = f"/sys/devices/system/cpu/cpu{c}/cpuidle/{st.name}/disable ({name}, {lat} µs)"
            out.append(it)
    return out


def notes(args: object) -> list[str]:
    return ["permanent alternative: kernel command line intel_idle.max_cstate=1 processor.max_cstate=1"]


def extra(p) -> None:  # type: ignore[no-untyped-def]
    p.add_argument("--max-latency-us", type=int, default=10, help="disable idle states slower than this")


if __name__ == "__main__":
    sys.exit(main("cstates", __doc__.splitlines()[0], items, extra=extra, notes_fn=notes))
