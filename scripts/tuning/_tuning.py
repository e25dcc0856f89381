"""Tuning room: the shared driver of every scripts/tuning/*.py host-tuning script.

Touches only what a script's items name (files under /proc, /sys, /etc, or an external command such
as ethtool), and `var/tuning/<script>.json` where prior values are saved before anything is applied.

Each script builds a list of `Item`s (one tunable each: where it lives, the wanted value, how to read
and write it) and calls `main(name, items_fn, argv)`. Modes:

- `--check`: report each item as ok / DIFFERS (current → wanted) / not available here (why); exit 1
  if anything differs, 0 otherwise (items not available on this machine are reported, not failed).
- `--dry-run`: print exactly what applying would write or run; change nothing.
- (no flag) apply: refuses without root (exit 2) when acting on the real system; saves the prior
  values to var/tuning/<script>.json first, then writes; items that are not available are skipped.
- `--undo`: restore the values saved by the last apply (root required), then remove the save file.
- `--sysroot DIR`: act on a copy of the file tree under DIR (tests, or preparing an image); paths
  like /sys/... become DIR/sys/...; root is not required there and external commands are not run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


class NotAvailable(Exception):
    """This machine lacks the knob (a container, no such driver, no tool); the message says which."""


@dataclass
class Ctx:
    sysroot: Path

    @property
    def real(self) -> bool:
        return str(self.sysroot) == "/"

    def path(self, p: str) -> Path:
        return self.sysroot / p.lstrip("/")


@dataclass
class Item:
    key: str  # stable id in the save file, e.g. "/sys/kernel/mm/transparent_hugepage/enabled"
    wanted: str
    read: Callable[[], str]  # raises NotAvailable
    write: Callable[[str], None] | None  # None = advice only (e.g. kernel command line)
    describe: str = ""  # what applying does, for --dry-run
    advice: str = ""  # printed when the item differs and cannot be applied automatically
    same: Callable[[str, str], bool] | None = None  # custom comparison (current, wanted)

    def matches(self, current: str) -> bool:
        return self.same(current, self.wanted) if self.same else current.strip() == self.wanted.strip()


# ---- helpers for items --------------------------------------------------------------------------
def file_item(ctx: Ctx, path: str, wanted: str, *, selected: bool = False, why: str = "") -> Item:
    """A /proc or /sys file. selected=True: the file lists choices with the active one in [brackets]."""
    f = ctx.path(path)

    def read() -> str:
        try:
            text = f.read_text().strip()
        except FileNotFoundError:
            raise NotAvailable(
                f"{path} does not exist ({why or 'kernel/driver does not offer it'})"
            ) from None
        except PermissionError:
            raise NotAvailable(f"{path} is not readable here") from None
        if selected and "[" in text:
            return text.split("[", 1)[1].split("]", 1)[0]
        return text

    def write(value: str) -> None:
        try:
            f.write_text(value + "\n")
        except FileNotFoundError:
            raise NotAvailable(f"{path} does not exist") from None
        except OSError as e:
            raise NotAvailable(f"{path} refused the write ({e.strerror}): read-only here") from None

    return Item(path, wanted, read, write, describe=f"echo {wanted} > {path}")


def sysctl_item(ctx: Ctx, name: str, wanted: str, *, at_least: bool = False) -> Item:
    path = "/proc/sys/" + name.replace(".", "/")
    item = file_item(ctx, path, wanted, why=f"sysctl {name} not in this kernel/namespace")
    item.key = name
    item.describe = f"sysctl -w {name}='{wanted}'"
    item.advice = f"persist it: echo '{name} = {wanted}' >> /etc/sysctl.d/90-oms.conf"
    if at_least:

        def same(cur: str, want: str) -> bool:
            c, w = cur.split(), want.split()
            return len(c) == len(w) and all(int(a) >= int(b) for a, b in zip(c, w, strict=True))

        item.same = same
    else:
        item.same = lambda cur, want: cur.split() == want.split()
    return item


def run(argv: list[str], timeout: float = 10.0) -> str:
    tool = shutil.which(argv[0])
    if tool is None:
        raise NotAvailable(f"`{argv[0]}` is not installed (apt-get install {argv[0]})")
    r = subprocess.run([tool, *argv[1:]], capture_output=True, text=True, timeout=timeout)
    if r.returncode != 0:
        raise NotAvailable(f"`{' '.join(argv)}` failed: {(r.stderr or r.stdout).strip()[:200]}")
    return r.stdout


def core_plan() -> tuple[list[int], list[int], list[str]]:
    """(trading cores that exist, housekeeping cores, notes) from DESIGN's core map and oms.pinning."""
    from oms import pinning
    from oms.cli.stack import default_core_map

    avail = pinning.available_cores()
    wanted = {p: c for p, c in default_core_map().items() if c is not None}
    trading = sorted({c for c in wanted.values() if c in avail})
    notes = [f"{p}: core {c} does not exist here" for p, c in wanted.items() if c not in avail]
    house = [c for c in avail if c not in trading]
    if not house and trading:
        notes.append(f"no core would be left for housekeeping; keeping core {trading[0]} for it")
        house, trading = [trading[0]], trading[1:]
    return trading, house, notes


def cpulist(cores: list[int]) -> str:
    return ",".join(map(str, cores))


# ---- driver -------------------------------------------------------------------------------------
def parse(
    name: str, doc: str, argv: list[str] | None, extra: Callable[[argparse.ArgumentParser], None] | None
):
    p = argparse.ArgumentParser(prog=f"scripts/tuning/{name}.py", description=doc)
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help="report differences; exit 1 if any")
    mode.add_argument("--dry-run", action="store_true", help="print what would be done; change nothing")
    mode.add_argument("--undo", action="store_true", help="restore the values saved by the last apply")
    p.add_argument("--sysroot", default="/", help="act on a file tree under this dir instead of /")
    p.add_argument("--state-dir", default=str(ROOT / "var" / "tuning"), help="where prior values are saved")
    if extra:
        extra(p)
    return p.parse_args(argv)


def main(
    name: str,
    doc: str,
    items_fn: Callable[[Ctx, argparse.Namespace], list[Item]],
    argv: list[str] | None = None,
    extra: Callable[[argparse.ArgumentParser], None] | None = None,
    notes_fn: Callable[[argparse.Namespace], list[str]] | None = None,
) -> int:
    args = parse(name, doc, argv, extra)
    ctx = Ctx(Path(args.sysroot).absolute())
    if not ctx.path("/").is_dir():
        print(f"{name}: --sysroot {args.sysroot} is not a directory", file=sys.stderr)
        return 2
    items = items_fn(ctx, args)
    for note in notes_fn(args) if notes_fn else []:
        print(f"note: {note}")
    save = Path(args.state_dir) / f"{name}.json"
    if args.undo:
        return _undo(name, ctx, items, save)
    if args.check or args.dry_run:
        return _check(items, dry=args.dry_run)
    if ctx.real and os.geteuid() != 0:
        print(
            f"{name}: refusing to apply without root (euid {os.geteuid()}); run it with sudo, "
            "or use --check / --dry-run to see what it would change",
            file=sys.stderr,
        )
        return 2
    return _apply(name, items, save)


def _check(items: list[Item], dry: bool) -> int:
    differ = 0
    for it in items:
        try:
            cur = it.read()
        except NotAvailable as e:
            print(f"  n/a      {it.key}: not available here: {e}")
            continue
        if it.matches(cur):
            print(f"  ok       {it.key} = {cur}")
            continue
        differ += 1
        if dry:
            action = it.describe if it.write else f"(advice only) {it.advice}"
            print(f"  would    {action}   [now: {cur}]")
        else:
            print(f"  DIFFERS  {it.key}: now {cur!r}, wanted {it.wanted!r}")
            if it.advice:
                print(f"           {it.advice}")
    print(f"{differ} setting(s) differ" + (" (dry run: nothing changed)" if dry else ""))
    return 1 if differ and not dry else 0


def _apply(name: str, items: list[Item], save: Path) -> int:
    prior: dict[str, str] = {}
    todo: list[tuple[Item, str]] = []
    for it in items:
        try:
            cur = it.read()
        except NotAvailable as e:
            print(f"  skip     {it.key}: not available here: {e}")
            continue
        if not it.matches(cur):
            todo.append((it, cur))
    if not todo:
        print("nothing to change")
        return 0
    save.parent.mkdir(parents=True, exist_ok=True)
    old = json.loads(save.read_text())["prior"] if save.exists() else {}
    prior = {**{it.key: cur for it, cur in todo}, **old}  # keep the oldest saved value of each key
    save.write_text(json.dumps({"script": name, "saved_at": time.time(), "prior": prior}, indent=2))
    failed = 0
    for it, cur in todo:
        if it.write is None:
            print(f"  advice   {it.key}: {it.advice}")
            continue
        try:
            it.write(it.wanted)
            print(f"  set      {it.key}: {cur} -> {it.wanted}")
        except NotAvailable as e:
            failed += 1
            print(f"  FAILED   {it.key}: {e}")
    print(f"prior values saved to {save}; undo with --undo")
    return 1 if failed else 0


def _undo(name: str, ctx: Ctx, items: list[Item], save: Path) -> int:
    if not save.exists():
        print(f"{name}: nothing to undo ({save} does not exist)")
        return 0
    if ctx.real and os.geteuid() != 0:
        print(f"{name}: refusing to undo without root; run it with sudo", file=sys.stderr)
        return 2
    prior = json.loads(save.read_text())["prior"]
    by_key = {it.key: it for it in items}
    failed = 0
    for key, value in prior.items():
        it = by_key.get(key)
        if it is None or it.write is None:
            continue
        try:
            it.write(value)
            print(f"  restored {key} = {value}")
        except NotAvailable as e:
            failed += 1
            print(f"  FAILED   {key}: {e}")
    if not failed:
        save.unlink()
    return 1 if failed else 0
