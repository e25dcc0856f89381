"""Tuning scripts on this machine in --check/--dry-run, and apply/--undo against a --sysroot file tree.

Nothing here writes to the real /proc or /sys: apply and undo run only with --sysroot pointing at a
temporary tree (the real knobs cannot be changed by a test on a shared machine).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
TUNING = ROOT / "scripts" / "tuning"
SCRIPTS = [
    "sysctl",
    "hugepages",
    "cpu_governor",
    "cstates",
    "cpu_isolation",
    "irq_affinity",
    "nic_coalescing",
]
sys.path.insert(0, str(TUNING))


def run(
    script: str, *args: str, user: int | None = None, state: Path | None = None
) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, str(TUNING / f"{script}.py"), *args]
    cwd = ROOT
    if state is not None:
        argv += ["--state-dir", str(state)]
    if user is not None:
        # the unprivileged user may not reach the checkout (a clone in a 0700 temp dir, /root): run a
        # copy of the scripts (stdlib only) from the world-readable state dir with the base interpreter
        assert state is not None, "runs as another user need a world-readable state dir"
        copy = state / "scripts"
        if not copy.exists():
            shutil.copytree(TUNING, copy, ignore=shutil.ignore_patterns("__pycache__"))
            for f in [copy, *copy.iterdir()]:
                f.chmod(0o755)
        argv[:2] = [os.path.realpath(sys.executable), str(copy / f"{script}.py")]
        argv = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups", *argv]
        cwd = state
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, cwd=str(cwd))


def _snapshot() -> dict[str, str]:
    out = {}
    for p in (
        "/sys/kernel/mm/transparent_hugepage/enabled",
        "/proc/sys/vm/swappiness",
        "/proc/sys/net/core/busy_poll",
        "/proc/irq/default_smp_affinity",
        "/proc/sys/vm/nr_hugepages",
    ):
        try:
            out[p] = Path(p).read_text()
        except OSError:
            out[p] = "<unreadable>"
    return out


@pytest.mark.parametrize("script", SCRIPTS)
def test_check_and_dry_run_on_this_machine(script: str, tmp_path: Path) -> None:
    before = _snapshot()
    chk = run(script, "--check", state=tmp_path)
    assert chk.returncode in (0, 1), chk.stderr
    assert "Traceback" not in chk.stderr + chk.stdout
    assert "setting(s) differ" in chk.stdout
    lines = [ln for ln in chk.stdout.splitlines() if ln.startswith("  ")]
    assert lines and all(
        ln.split()[0] in ("ok", "DIFFERS", "n/a") or ln.startswith("           ") for ln in lines
    )
    n_differ = int(chk.stdout.strip().splitlines()[-1].split()[0])
    assert chk.returncode == (1 if n_differ else 0)
    dry = run(script, "--dry-run", state=tmp_path)
    assert dry.returncode == 0 and "dry run: nothing changed" in dry.stdout, dry.stderr
    assert dry.stdout.count("  would ") == n_differ
    assert _snapshot() == before
    assert not list(tmp_path.iterdir())  # check/dry-run save nothing


def test_missing_sys_files_are_not_available_not_crashes(tmp_path: Path) -> None:
    empty = tmp_path / "root"
    empty.mkdir()
    for script in SCRIPTS:
        r = run(script, "--check", "--sysroot", str(empty), state=tmp_path / "state")
        assert r.returncode == 0 and "Traceback" not in r.stderr, (script, r.stderr)
        if script not in ("cpu_isolation",):
            assert "not available here" in r.stdout, (script, r.stdout)


@pytest.mark.skipif(
    shutil.which("setpriv") is None and os.geteuid() == 0, reason="needs setpriv (util-linux) to drop root"
)
def test_apply_and_undo_refuse_without_root() -> None:
    import tempfile

    before = _snapshot()
    user = 65534 if os.geteuid() == 0 else None
    state = Path(tempfile.mkdtemp(prefix="oms-tuning-"))  # readable by the unprivileged user
    try:
        os.chmod(state, 0o755)
        r = run("hugepages", state=state, user=user)
        assert r.returncode == 2 and "refusing to apply without root" in r.stderr, r.stderr + r.stdout
        (state / "sysctl.json").write_text(json.dumps({"prior": {"vm.swappiness": "60"}}))
        os.chmod(state / "sysctl.json", 0o644)
        r = run("sysctl", "--undo", state=state, user=user)
        assert r.returncode == 2 and "refusing to undo without root" in r.stderr, r.stderr + r.stdout
        assert _snapshot() == before
    finally:
        shutil.rmtree(state)


def _fake_tree(root: Path) -> None:
    thp = root / "sys/kernel/mm/transparent_hugepage"
    thp.mkdir(parents=True)
    (thp / "enabled").write_text("always [madvise] never\n")
    (thp / "defrag").write_text("always defer defer+madvise [madvise] never\n")
    (root / "proc/sys/vm").mkdir(parents=True)
    (root / "proc/sys/vm/nr_hugepages").write_text("0\n")
    (root / "proc/mounts").write_text("tmpfs /dev/shm tmpfs rw,relatime,size=1024k 0 0\n")
    (root / "proc/sys/net/core").mkdir(parents=True)
    (root / "proc/sys/net/core/rmem_max").write_text("33554432\n")  # already bigger than wanted: ok
    (root / "proc/sys/net/core/busy_poll").write_text("0\n")


def test_apply_then_undo_on_a_sysroot_tree(tmp_path: Path) -> None:
    root, state = tmp_path / "root", tmp_path / "state"
    _fake_tree(root)
    r = run("hugepages", "--sysroot", str(root), state=state)
    assert "/dev/shm" in r.stdout and "FAILED" in r.stdout  # remount cannot work on a file tree: said so
    assert (root / "sys/kernel/mm/transparent_hugepage/enabled").read_text().strip() == "never"
    assert (root / "proc/sys/vm/nr_hugepages").read_text().strip() == "256"
    saved = json.loads((state / "hugepages.json").read_text())["prior"]
    assert saved["/sys/kernel/mm/transparent_hugepage/enabled"] == "madvise"
    chk = run("hugepages", "--check", "--sysroot", str(root), state=state)
    assert chk.returncode == 1 and chk.stdout.count("DIFFERS") == 1  # only the /dev/shm mount option
    undo = run("hugepages", "--undo", "--sysroot", str(root), state=state)
    assert undo.returncode == 1  # the mount option cannot be restored on a file tree: reported
    assert (root / "sys/kernel/mm/transparent_hugepage/enabled").read_text().strip() == "madvise"
    assert (root / "proc/sys/vm/nr_hugepages").read_text().strip() == "0"


def test_sysctl_at_least_and_exact(tmp_path: Path) -> None:
    root, state = tmp_path / "root", tmp_path / "state"
    _fake_tree(root)
    chk = run("sysctl", "--check", "--sysroot", str(root), state=state)
    assert "ok       net.core.rmem_max = 33554432" in chk.stdout
    assert "DIFFERS  net.core.busy_poll: now '0', wanted '50'" in chk.stdout
    run("sysctl", "--sysroot", str(root), state=state)
    assert (root / "proc/sys/net/core/busy_poll").read_text().strip() == "50"
    assert (root / "proc/sys/net/core/rmem_max").read_text().strip() == "33554432"  # bigger kept
    assert run("sysctl", "--undo", "--sysroot", str(root), state=state).returncode == 0
    assert (root / "proc/sys/net/core/busy_poll").read_text().strip() == "0"
    assert not (state / "sysctl.json").exists()


def test_isolation_parameters_from_core_map() -> None:
    import cpu_isolation

    assert cpu_isolation.params([]) == {}
    assert cpu_isolation.params([2, 3, 4]) == {
        "isolcpus": "managed_irq,domain,2,3,4",
        "nohz_full": "2,3,4",
        "rcu_nocbs": "2,3,4",
    }
    assert cpu_isolation._cores_of("managed_irq,domain,2-4") == {2, 3, 4}
    out = run("cpu_isolation", "--check").stdout
    assert "trading cores present:" in out
