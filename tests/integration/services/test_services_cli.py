"""Services room: `oms services up|status|down` across separate invocations (real servers)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from oms.services.base import pid_alive
from oms.services.ports import port_free

ROOT = Path(__file__).resolve().parents[3]


def test_cli_services_up_status_down() -> None:
    # a root the postgres user can traverse (pytest's tmp root is 0700): the cluster stays inside it
    tmp_path = Path(tempfile.mkdtemp(prefix="oms-cli-"))
    tmp_path.chmod(0o755)
    try:
        _round_trip(tmp_path)
    finally:
        shutil.rmtree(tmp_path, ignore_errors=True)


def _round_trip(tmp_path: Path) -> None:
    cfg = tmp_path / "oms.toml"
    cfg.write_text(
        f'[services]\ndata_dir = "{tmp_path}/data"\nrun_dir = "{tmp_path}/run"\nlog_dir = "{tmp_path}/log"\n'
    )
    oms = [sys.executable, "-c", "import sys; from oms.cli import main; sys.exit(main())"]
    env = {**os.environ, "OMS_CONFIG": str(cfg)}
    up = subprocess.run(
        [*oms, "services", "up"], capture_output=True, text=True, cwd=ROOT, env=env, timeout=120
    )
    try:
        assert up.returncode == 0, up.stderr
        st = subprocess.run(
            [*oms, "services", "status", "--json"],
            capture_output=True,
            text=True,
            cwd=ROOT,
            env=env,
            timeout=60,
        )
        assert st.returncode == 0, st.stderr
        rows = json.loads(st.stdout)
        assert sorted(r["name"] for r in rows) == ["nats", "openbao", "postgres", "redis"]
        assert all(r["healthy"] for r in rows)
        table = subprocess.run(
            [*oms, "services", "status"], capture_output=True, text=True, cwd=ROOT, env=env, timeout=60
        ).stdout
        assert table.count("healthy") >= 4
    finally:
        down = subprocess.run(
            [*oms, "services", "down"], capture_output=True, text=True, cwd=ROOT, env=env, timeout=120
        )
    assert down.returncode == 0, down.stderr
    for r in rows:
        assert not pid_alive(r["pid"]) and port_free(r["port"])
    st = subprocess.run([*oms, "services", "status"], capture_output=True, text=True, cwd=ROOT, env=env)
    assert st.returncode == 3 and "not up" in st.stdout + st.stderr
