#!/usr/bin/env python3
"""Tuning room: CPU frequency governor `performance` on every core (no ramp-up latency after idle).

Touches /sys/devices/system/cpu/cpu*/cpufreq/scaling_governor and var/tuning/cpu_governor.json.
A VM or container without cpufreq reports "not available here" per core.
"""

from __future__ import annotations

import sys

from _tuning import Ctx, Item, file_item, main

from oms.pinning import available_cores


def items(ctx: Ctx, _args: object) -> list[Item]:
    return [
        file_item(
            ctx,
            f"/sys/devices/system/cpu/cpu{c}/cpufreq/scaling_governor",
            "performance",
            why="no cpufreq driver (VM/container)",
        )
        for c in available_cores()
    ]


if __name__ == "__main__":
    sys.exit(main("cpu_governor", __doc__.splitlines()[0], items))
