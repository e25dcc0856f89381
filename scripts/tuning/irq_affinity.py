#!/usr/bin/env python3
"""Tuning room: steer hardware interrupts away from the trading cores onto the housekeeping cores.

Touches /proc/irq/*/smp_affinity_list, /proc/irq/default_smp_affinity and var/tuning/irq_affinity.json.
Trading cores come from the core map (oms.pinning); on a machine where none of them exist every IRQ may
stay on every core, and --check says so. IRQs the kernel will not move (per-CPU timers, some MSI) are
reported as not available. Stop irqbalance (or set IRQBALANCE_BANNED_CPULIST) or it moves them back.
"""

from __future__ import annotations

import sys

from _tuning import Ctx, Item, core_plan, cpulist, file_item, main
from cpu_isolation import _cores_of


def items(ctx: Ctx, _args: object) -> list[Item]:
    _, house, _ = core_plan()
    wanted = cpulist(house)
    out: list[Item] = []
    mask = sum(1 << c for c in house)
    d = file_item(ctx, "/proc/irq/default_smp_affinity", format(mask, "x"), why="no /proc/irq (container?)")
    d.same = lambda cur, want: int(cur.replace(",", ""), 16) == int(want, 16)
    out.append(d)
    base = ctx.path("/proc/irq")
    irqs = (
        sorted((p for p in base.iterdir() if p.name.isdigit()), key=lambda p: int(p.name))
        if base.is_dir()
        else []
    )
    for irq in irqs:
        it = file_item(ctx, f"/proc/irq/{irq.name}/smp_affinity_list", wanted)
        it.same = lambda cur, want: _cores_of(cur) <= _cores_of(want)
        out.append(it)
    return out


def notes(_args: object) -> list[str]:
    trading, house, notes = core_plan()
    return [
        f"IRQs go to housekeeping cores {cpulist(house)}; trading cores: {cpulist(trading) or 'none here'}",
        "stop irqbalance (systemctl disable --now irqbalance) or it undoes this",
        *notes,
    ]


if __name__ == "__main__":
    sys.exit(main("irq_affinity", __doc__.splitlines()[0], items, notes_fn=notes))
