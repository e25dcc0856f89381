#!/usr/bin/env python3
"""Tuning room: NIC interrupt coalescing off for latency (adaptive off, rx/tx-usecs 0) via ethtool.

Touches the NIC settings of --iface (default: the interface of the default route) through
`ethtool -c/-C`, and var/tuning/nic_coalescing.json. Without ethtool, or on a virtual NIC that does
not support coalescing settings, each item is reported as not available here.
"""

from __future__ import annotations

import sys

from _tuning import Ctx, Item, NotAvailable, main, run

WANTED = {"adaptive-rx": "off", "adaptive-tx": "off", "rx-usecs": "0", "tx-usecs": "0"}


def default_iface(ctx: Ctx) -> str:
    try:
        for line in ctx.path("/proc/net/route").read_text().splitlines()[1:]:
            f = line.split()
            if len(f) > 1 and f[1] == "00000000":
                return f[0]
    except FileNotFoundError:
        pass
    return "eth0"


def items(ctx: Ctx, args: object) -> list[Item]:
    iface = getattr(args, "iface", None) or default_iface(ctx)
    out = []
    for key, wanted in WANTED.items():

        def read(key: str = key) -> str:
            if not ctx.real:
                raise NotAvailable("ethtool only acts on the real system (not with --sysroot)")
            text = run(["ethtool", "-c", iface])
            for line in text.splitlines():
                k, _, v = line.partition(":")
                if k.strip().lower() == key:
                    v = v.strip()
                    if v in ("n/a", ""):
                        raise NotAvailable(f"{iface} does not support {key}")
                    return v
            raise NotAvailable(f"{iface}: ethtool -c shows no {key}")

        def write(value: str, key: str = key) -> None:
            run(["ethtool", "-C", iface, key, value])

        out.append(Item(f"{iface} {key}", wanted, read, write, describe=f"ethtool -C {iface} {key} {wanted}"))
    return out


def extra(p) -> None:  # type: ignore[no-untyped-def]
    p.add_argument("--iface", default=None, help="network interface (default: the default route's)")


if __name__ == "__main__":
    sys.exit(main("nic_coalescing", __doc__.splitlines()[0], items, extra=extra))
