"""scripts/tuning/tune.py: the whole profile as one table, applied and undone as a whole.

On this machine only --check and --dry-run run (nothing may change the shared box's kernel settings);
apply and undo run against a --sysroot file tree (the refusal without root is tested for the shared
driver in test_tuning_scripts.py).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
TUNE = ROOT / "scripts" / "tuning" / "tune.py"
AREAS = ("boot", "irq", "governor", "cstates", "hugepages", "nic", "sysctl")


def tune(*args: str, state: Path) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, str(TUNE), *args, "--state-dir", str(state)]
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, cwd=str(ROOT))


def _rows(out: str) -> list[list[str]]:
    lines = out.splitlines()
    start = next(i for i, ln in enumerate(lines) if ln.startswith("area "))
    return [ln.split(None, 4) for ln in lines[start + 2 : -1]]


def _knobs() -> dict[str, str]:
    out = {}
    for p in ("/proc/sys/vm/swappiness", "/proc/sys/net/core/busy_poll", "/proc/sys/vm/nr_hugepages"):
        try:
            out[p] = Path(p).read_text()
        except OSError:
            out[p] = "<unreadable>"
    return out


def test_check_prints_every_area_as_a_table_and_changes_nothing(tmp_path: Path) -> None:
    before = _knobs()
    chk = tune(state=tmp_path)  # no flag = --check
    assert "Traceback" not in chk.stderr + chk.stdout, chk.stderr
    rows = _rows(chk.stdout)
    assert {r[0] for r in rows} == set(AREAS), chk.stdout
    differ = int(chk.stdout.strip().splitlines()[-1].split()[0])
    assert differ == sum(1 for r in rows if "DIFFERS" in r[-1].split(" (")[0])
    assert chk.returncode == (1 if differ else 0)
    dry = tune("--dry-run", state=tmp_path)
    assert dry.returncode == 0 and "dry run: nothing changed" in dry.stdout
    assert dry.stdout.count(" would: ") == differ
    assert _knobs() == before and not list(tmp_path.iterdir())  # nothing applied, nothing saved


def _tree(root: Path) -> None:
    thp = root / "sys/kernel/mm/transparent_hugepage"
    thp.mkdir(parents=True)
    (thp / "enabled").write_text("always [madvise] never\n")
    (thp / "defrag").write_text("always [madvise] never\n")
    for d in ("proc/sys/vm", "proc/sys/net/core", "proc/sys/kernel", "proc/irq"):
        (root / d).mkdir(parents=True)
    (root / "proc/sys/vm/nr_hugepages").write_text("0\n")
    (root / "proc/sys/vm/swappiness").write_text("60\n")
    (root / "proc/sys/net/core/busy_poll").write_text("0\n")
    (root / "proc/sys/net/core/rmem_max").write_text("33554432\n")
    (root / "proc/cmdline").write_text("BOOT_IMAGE=/vmlinuz root=/dev/sda1 quiet\n")


def test_apply_and_undo_the_whole_profile_on_a_sysroot(tmp_path: Path) -> None:
    root, state = tmp_path / "root", tmp_path / "state"
    _tree(root)
    chk = tune("--sysroot", str(root), state=state)
    assert chk.returncode == 1
    swap = next(r for r in _rows(chk.stdout) if r[1] == "vm.swappiness")
    assert swap[2:4] == ["1", "60"] and swap[4].startswith("DIFFERS")
    assert next(r for r in _rows(chk.stdout) if r[1] == "net.core.rmem_max")[4] == "ok"  # bigger is fine
    applied = tune("--apply", "--sysroot", str(root), state=state)
    assert "set      vm.swappiness: 60 -> 1" in applied.stdout, applied.stdout
    assert (root / "proc/sys/net/core/busy_poll").read_text().strip() == "50"
    assert (root / "sys/kernel/mm/transparent_hugepage/enabled").read_text().strip() == "never"
    saved = json.loads((state / "tune.json").read_text())["prior"]
    assert saved["vm.swappiness"] == "60" and saved["/proc/sys/vm/nr_hugepages"] == "0"
    after = tune("--sysroot", str(root), state=state)
    assert next(r for r in _rows(after.stdout) if r[1] == "vm.swappiness")[4] == "ok"
    tune("--undo", "--sysroot", str(root), state=state)
    assert (root / "proc/sys/vm/swappiness").read_text().strip() == "60"
    assert (root / "proc/sys/net/core/busy_poll").read_text().strip() == "0"
    assert (root / "sys/kernel/mm/transparent_hugepage/enabled").read_text().strip() == "madvise"


def test_bad_sysroot_and_bad_flags_are_refused(tmp_path: Path) -> None:
    r = tune("--sysroot", str(tmp_path / "nope"), state=tmp_path)
    assert r.returncode == 2 and "is not a directory" in r.stderr
    r = tune("--apply", "--undo", state=tmp_path)
    assert r.returncode == 2 and "not allowed with" in r.stderr
