#!/usr/bin/env python3
"""Tuning room: kernel command-line CPU isolation for the trading cores (isolcpus, nohz_full, rcu_nocbs).

Touches nothing live: the kernel command line only changes at boot. --check compares /proc/cmdline
with the parameters derived from the core map (DESIGN.md's engine/marketdata/connector cores that
exist on this machine, via oms.pinning); apply writes a GRUB drop-in
/etc/default/grub.d/99-oms-isolation.cfg (then run update-grub and reboot) and saves the prior file
to var/tuning/cpu_isolation.json so --undo restores it. On a machine where none of the planned trading
cores exist (e.g. 2 cores) there is nothing to isolate, and it says so.
"""

from __future__ import annotations

import sys

from _tuning import Ctx, Item, NotAvailable, core_plan, cpulist, main

DROPIN = "/etc/default/grub.d/99-oms-isolation.cfg"
ABSENT = "(absent)"


def _cmdline(ctx: Ctx) -> dict[str, str]:
    try:
        text = ctx.path("/proc/cmdline").read_text()
    except FileNotFoundError:
        raise NotAvailable("/proc/cmdline missing") from None
    out = {}
    for tok in text.split():
        k, _, v = tok.partition("=")
        out[k] = v
    return out


def _cores_of(value: str) -> set[int]:
    out: set[int] = set()
    for part in value.split(","):
        if "-" in part:
            a, b = part.split("-", 1)
            if a.isdigit() and b.isdigit():
                out |= set(range(int(a), int(b) + 1))
        elif part.isdigit():
            out.add(int(part))
    return out


def params(trading: list[int]) -> dict[str, str]:
    if not trading:
        return {}
    cl = cpulist(trading)
    return {"isolcpus": f"managed_irq,domain,{cl}", "nohz_full": cl, "rcu_nocbs": cl}


def items(ctx: Ctx, _args: object) -> list[Item]:
    trading, _, _ = core_plan()
    want = params(trading)
    out: list[Item] = []
    for key in ("isolcpus", "nohz_full", "rcu_nocbs"):
        wanted = want.get(key, "")

        def read(key: str = key) -> str:
            return _cmdline(ctx).get(key, "")

        def same(cur: str, w: str) -> bool:
            return _cores_of(cur) == _cores_of(w)

        line = " ".join(f"{k}={v}" for k, v in want.items())
        out.append(
            Item(
                f"cmdline {key}",
                wanted,
                read,
                None,
                same=same,
                advice=f'add to GRUB_CMDLINE_LINUX: "{line}", then update-grub and reboot',
            )
        )
    if want:
        content = (
            'GRUB_CMDLINE_LINUX="$GRUB_CMDLINE_LINUX ' + " ".join(f"{k}={v}" for k, v in want.items()) + '"'
        )
        out.append(_dropin(ctx, content))
    return out


def _dropin(ctx: Ctx, content: str) -> Item:
    f = ctx.path(DROPIN)

    def read() -> str:
        if not f.parent.is_dir():
            raise NotAvailable(
                f"{f.parent} does not exist (no GRUB on this machine; set the parameters in your boot loader)"
            )
        return f.read_text().strip() if f.exists() else ABSENT

    def write(value: str) -> None:
        if value == ABSENT:
            f.unlink(missing_ok=True)
        else:
            f.write_text(value + "\n")

    return Item(
        DROPIN, content, read, write, describe=f"write {DROPIN}: {content}  (then update-grub; reboot)"
    )


def notes(_args: object) -> list[str]:
    trading, house, notes = core_plan()
    head = [f"trading cores present: {cpulist(trading) or 'none'}; housekeeping cores: {cpulist(house)}"]
    if not trading:
        head.append("none of the planned trading cores (2-6) exist here: nothing to isolate on this machine")
    return head + notes


if __name__ == "__main__":
    sys.exit(main("cpu_isolation", __doc__.splitlines()[0], items, notes_fn=notes))
