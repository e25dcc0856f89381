"""Deploy room tests: the reference top-level supervisord.conf is current, parses, and follows the core plan.

Parses with supervisor's own ServerOptions (the code `supervisord -c supervisord.conf` runs), so a bad
expansion, section or option fails here; nothing is started.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from oms.cli import deploy
from oms.cli import main as oms_main

ROOT = Path(__file__).resolve().parents[3]


def _parsed(text: str, tmp_path: Path) -> dict[str, object]:
    from supervisor.options import ServerOptions

    (tmp_path / "var" / "log").mkdir(parents=True)
    (tmp_path / "var" / "run").mkdir(parents=True)
    conf = tmp_path / "supervisord.conf"
    conf.write_text(text)
    opts = ServerOptions()
    opts.realize(args=["-c", str(conf)])
    return {p.name: p for g in opts.process_group_configs for p in g.process_configs}


def _config_copy(tmp_path: Path, enable: tuple[str, ...] = ()) -> Path:
    cfg_dir = tmp_path / "configs"
    shutil.copytree(ROOT / "configs", cfg_dir)
    path = cfg_dir / "oms.toml"
    text = path.read_text()
    for name in enable:
        head, tail = text.split(f"[processes.{name}]", 1)
        text = head + f"[processes.{name}]" + tail.replace("enabled = false", "enabled = true", 1)
    path.write_text(text)
    return path


def test_committed_reference_is_current() -> None:
    want = deploy.render_reference()
    have = (ROOT / "supervisord.conf").read_text()
    assert have == want, "supervisord.conf is stale: run `.venv/bin/oms deploy supervisord` and commit it"


def test_reference_parses_and_pins_the_core_plan(tmp_path: Path) -> None:
    progs = _parsed((ROOT / "supervisord.conf").read_text(), tmp_path)
    want = {"engine": "2", "marketdata": "3", "conn-binance": "4"}
    for name, cpus in want.items():
        cmd = progs[name].command  # type: ignore[attr-defined]
        assert cmd.startswith(f"taskset -c {cpus} {tmp_path}/.venv/bin/python -u -m "), cmd
        assert progs[name].autostart  # type: ignore[attr-defined]
    for name in ("gateway", "bridge", "recorder", "monitor", "local-services"):
        assert progs[name].command.startswith(f"taskset -c {deploy.HOUSEKEEPING} "), name  # type: ignore[attr-defined]
    assert progs["local-services"].priority < progs["engine"].priority  # type: ignore[attr-defined]
    assert progs["engine"].environment["OMS_CONFIG"] == f"{tmp_path}/configs/oms.toml"  # type: ignore[attr-defined]
    registered = set(deploy.registered_venues())
    for venue in ("bybit", "okx", "upbit"):  # not started unless the venue exists
        if venue not in registered:
            assert f"conn-{venue}" not in progs


def test_unregistered_venue_is_never_started_even_if_enabled(tmp_path: Path) -> None:
    cfg = _config_copy(tmp_path, enable=("conn-bybit", "conn-okx", "conn-upbit"))
    text = deploy.render_reference(cfg, venues=["binance"])
    progs = _parsed(text, tmp_path / "run")
    assert not {"conn-bybit", "conn-okx", "conn-upbit"} & set(progs)
    assert "core 5    conn-bybit     not started: venue 'bybit' not registered yet" in text


def test_slots_fill_as_venues_register(tmp_path: Path) -> None:
    cfg = _config_copy(tmp_path, enable=("conn-bybit", "conn-okx", "conn-upbit"))
    text = deploy.render_reference(cfg, venues=["binance", "bybit", "okx", "upbit"])
    progs = _parsed(text, tmp_path / "run")
    for name, core in (("conn-bybit", 5), ("conn-okx", 6), ("conn-upbit", 7)):
        assert progs[name].command.startswith(f"taskset -c {core} "), name  # type: ignore[attr-defined]
        assert "--venues binance,bybit,okx,upbit" in progs["engine"].command  # type: ignore[attr-defined]
    # registered but disabled in the config: still left out, and the header says why
    text = deploy.render_reference(_config_copy(tmp_path / "b"), venues=["binance", "bybit"])
    assert "conn-bybit     not started: enabled = false in [processes.conn-bybit]" in text


def test_check_reports_a_stale_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stale = tmp_path / "supervisord.conf"
    stale.write_text((ROOT / "supervisord.conf").read_text().replace("taskset -c 2 ", "taskset -c 9 "))
    assert oms_main(["deploy", "supervisord", "--check", "--out", str(stale)]) == 1
    out = capsys.readouterr()
    assert "-command=taskset -c 9" in out.out and "is stale" in out.err
    assert oms_main(["deploy", "supervisord", "--check", "--out", str(tmp_path / "missing.conf")]) == 2
