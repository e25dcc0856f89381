#!/usr/bin/env python3
"""Tuning room: transparent hugepages off, explicit hugepages reserved, /dev/shm backed by huge pages.

Touches /sys/kernel/mm/transparent_hugepage/{enabled,defrag}, /proc/sys/vm/nr_hugepages, the /dev/shm
mount's `huge=` option (mount -o remount) and var/tuning/hugepages.json. THP off avoids khugepaged
compaction stalls on the hot path; the rings and tables in /dev/shm get 2 MiB pages instead via the
tmpfs `huge=within_size` option, so a ring of a few MiB costs a handful of TLB entries.
"""

from __future__ import annotations

import subprocess
import sys

from _tuning import Ctx, Item, NotAvailable, file_item, main, run

THP = "/sys/kernel/mm/transparent_hugepage"


def _shm_huge(ctx: Ctx) -> Item:
    def read() -> str:
        try:
            mounts = ctx.path("/proc/mounts").read_text().splitlines()
        except FileNotFoundError:
            raise NotAvailable("/proc/mounts missing") from None
        for line in mounts:
            f = line.split()
            if len(f) >= 4 and f[1] == "/dev/shm":
                if f[2] != "tmpfs":
                    raise NotAvailable(f"/dev/shm is {f[2]}, not tmpfs")
                opts = dict(o.split("=", 1) if "=" in o else (o, "") for o in f[3].split(","))
                return opts.get("huge", "never")
        raise NotAvailable("/dev/shm is not mounted")

    def write(value: str) -> None:
        if not ctx.real:
            raise NotAvailable("remounting /dev/shm only works on the real system (not with --sysroot)")
        try:
            run(["mount", "-o", f"remount,huge={value}", "/dev/shm"])
        except (NotAvailable, subprocess.TimeoutExpired) as e:
            raise NotAvailable(f"remount of /dev/shm failed: {e}") from None

    return Item(
        "/dev/shm huge=",
        "within_size",
        read,
        write,
        describe="mount -o remount,huge=within_size /dev/shm",
        advice="persist it in /etc/fstab: tmpfs /dev/shm tmpfs defaults,huge=within_size 0 0",
    )


def items(ctx: Ctx, args: object) -> list[Item]:
    pages = str(getattr(args, "pages", 256))
    nr = file_item(ctx, "/proc/sys/vm/nr_hugepages", pages, why="no hugetlb support")
    nr.same = lambda cur, want: int(cur) >= int(want)
    return [
        file_item(ctx, f"{THP}/enabled", "never", selected=True, why="no THP support"),
        file_item(ctx, f"{THP}/defrag", "never", selected=True, why="no THP support"),
        nr,
        _shm_huge(ctx),
    ]


def extra(p) -> None:  # type: ignore[no-untyped-def]
    p.add_argument(
        "--pages", type=int, default=256, help="2 MiB hugepages to reserve (default 256 = 512 MiB)"
    )


if __name__ == "__main__":
    sys.exit(main("hugepages", __doc__.splitlines()[0], items, extra=extra))
