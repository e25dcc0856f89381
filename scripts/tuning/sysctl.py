#!/usr/bin/env python3
"""Tuning room: kernel sysctls for low-latency networking (buffers, busy polling, scheduler noise).

Touches /proc/sys/* (via the shared driver in _tuning.py) and var/tuning/sysctl.json. Buffer sizes
are "at least" checks (a bigger value is fine). Run with the venv: .venv/bin/python scripts/tuning/sysctl.py
--check | --dry-run | --undo | (apply, as root).
"""

from __future__ import annotations

import sys

from _tuning import Ctx, Item, main, sysctl_item

AT_LEAST = {
    "net.core.rmem_max": "16777216",
    "net.core.wmem_max": "16777216",
    "net.core.rmem_default": "1048576",
    "net.core.wmem_default": "1048576",
    "net.core.netdev_max_backlog": "30000",
    "net.ipv4.tcp_rmem": "4096 1048576 16777216",
    "net.ipv4.tcp_wmem": "4096 1048576 16777216",
}
EXACT = {
    "net.core.busy_poll": "50",  # µs of busy polling in poll/select (needs SO_BUSY_POLL-aware NICs)
    "net.core.busy_read": "50",  # µs of busy polling on blocking socket reads
    "net.ipv4.tcp_slow_start_after_idle": "0",  # no cwnd collapse on quiet order sessions
    "net.ipv4.tcp_timestamps": "1",
    "kernel.numa_balancing": "0",  # page migration scans stall pinned threads
    "kernel.sched_autogroup_enabled": "0",
    "vm.swappiness": "1",
    "vm.stat_interval": "10",  # vmstat work wakes every CPU each interval
}


def items(ctx: Ctx, _args: object) -> list[Item]:
    out = [sysctl_item(ctx, k, v, at_least=True) for k, v in AT_LEAST.items()]
    return out + [sysctl_item(ctx, k, v) for k, v in EXACT.items()]


if __name__ == "__main__":
    sys.exit(main("sysctl", __doc__.splitlines()[0], items))
