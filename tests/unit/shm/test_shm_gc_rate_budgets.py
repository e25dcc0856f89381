"""CLI shm room: `oms shm gc --rate-budgets` removes the connectors' rate-budget files nobody holds, and
never one a live process has mapped (a real RateBudget from the connector room holds one here)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from oms.cli.shm import gc_rate_budgets
from oms.conn.ratelimit import Limit, RateBudget


def test_unheld_budget_files_go_held_ones_stay(tmp_path: Path) -> None:
    limits = (Limit("weight", 60_000, 1200, "x-mbx-used-weight-1m"),)
    held = RateBudget("held-key", limits, directory=str(tmp_path))
    other = RateBudget("closed-key", limits, directory=str(tmp_path))
    other.close()  # its process stopped: nothing holds the file any more
    (tmp_path / "oms.rl.child").write_bytes(b"\0" * 64)
    code = (
        "import sys, mmap; f = open(sys.argv[1], 'r+b'); m = mmap.mmap(f.fileno(), 0); f.close(); "
        "print('ok', flush=True); sys.stdin.read()"
    )
    child = subprocess.Popen(  # another live process holding a third one (mapped, fd closed)
        [sys.executable, "-c", code, str(tmp_path / "oms.rl.child")],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert child.stdout is not None and child.stdout.readline().strip() == "ok"
    (tmp_path / "unrelated").write_text("not ours")
    try:
        assert gc_rate_budgets(dry_run=True, directory=str(tmp_path)) == [Path(other.path).name]
        assert Path(other.path).exists()
        assert gc_rate_budgets(directory=str(tmp_path)) == [Path(other.path).name]
        assert sorted(os.listdir(tmp_path)) == sorted([Path(held.path).name, "oms.rl.child", "unrelated"])
    finally:
        child.communicate("", timeout=10)
        held.close()
    assert sorted(gc_rate_budgets(directory=str(tmp_path))) == sorted([Path(held.path).name, "oms.rl.child"])
    assert os.listdir(tmp_path) == ["unrelated"]
