"""Services room: `oms services up|status|down` across separate invocations (real servers).

`up` runs in its own process, which exits while the services keep running under the detached keeper;
`status` and `down` then run as later invocations (in-process `oms.cli.main`, to save a second of CLI
imports each on a loaded machine) that only know the state file.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from oms.cli import main as oms_main
from oms.services.base import pid_alive
from oms.services.ports import port_free

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def cfg(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    # a root the postgres user can traverse (pytest's tmp root is 0700): the cluster stays inside it
    d = Path(tempfile.mkdtemp(prefix="oms-cli-"))
    d.chmod(0o755)
    path = d / "oms.toml"
    path.write_text(f'[services]\ndata_dir = "{d}/data"\nrun_dir = "{d}/run"\nlog_dir = "{d}/log"\n')
    monkeypatch.setenv("OMS_CONFIG", str(path))
    yield path
    oms_main(["services", "down"])  # whatever happened above, leave nothing running
    shutil.rmtree(d, ignore_errors=True)


def test_cli_services_up_status_down(cfg: Path, capsys: pytest.CaptureFixture[str]) -> None:
    up = subprocess.run(
        [sys.executable, "-c", "import sys; from oms.cli import main; sys.exit(main())", "services", "up"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "OMS_CONFIG": str(cfg)},
        timeout=120,
    )
    assert up.returncode == 0, up.stderr
    assert up.stdout.count("healthy") == 4 and "up in" in up.stdout
    # the `up` process is gone; the services live on under the keeper
    assert oms_main(["services", "status", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert sorted(r["name"] for r in rows) == ["nats", "openbao", "postgres", "redis"]
    assert all(r["healthy"] and pid_alive(r["pid"]) for r in rows)
    assert oms_main(["services", "status"]) == 0
    assert capsys.readouterr().out.count("healthy") == 4
    assert oms_main(["services", "down"]) == 0
    assert "all ports free" in capsys.readouterr().out
    for r in rows:
        assert not pid_alive(r["pid"]) and port_free(r["port"])
    assert oms_main(["services", "status"]) == 3
    assert "not up" in capsys.readouterr().out
