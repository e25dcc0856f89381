"""Live mode (`[venues] mode = "live"` / `oms up --live`): no simulator in the plan, the configured URLs
untouched, and a stack that refuses to start while an enabled venue's key is missing from Vault, naming
the key's Vault path (a real OpenBao dev server). Also: exchange files are found by their venue and
market keys (okx_swap.toml), and `oms instruments sync` fills the registry from a venue reached by URL
(a simulator started on its own, as if it were the real venue)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import hvac
import pytest

from oms.cli._stacksim import check_live_keys
from oms.cli.stack import StackPaths, plan_stack
from oms.config import load
from oms.conn.service import exchange_files
from oms.errors import ConfigError, OmsError
from oms.services.openbao import OpenBaoServer
from oms.venues.instruments import InstrumentRegistry

ROOT = Path(__file__).resolve().parents[3]
CONFIG = ROOT / "configs" / "oms.toml"


def _vault_env(bao: OpenBaoServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMS_SECRETS__BACKEND", '"vault"')
    monkeypatch.setenv("OMS_SECRETS__VAULT_URL", f'"{bao.url}"')
    monkeypatch.setenv("VAULT_TOKEN", bao.root_token)


def test_live_mode_refuses_a_missing_key_naming_its_vault_path(
    openbao_server: OpenBaoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    _vault_env(openbao_server, monkeypatch)
    cfg = load(str(CONFIG))
    c = hvac.Client(url=openbao_server.url, token=openbao_server.root_token)
    names = {x.credentials.key for x in cfg.exchanges.values() if x.venue == "binance" and x.enabled}
    # the OpenBao server is shared by the session: another test may already have stored one of the
    # exchange files' keys, so the refusal names whichever is missing, and that one must really be absent
    with pytest.raises(OmsError, match=r"missing API key Vault .* path secret/exchanges/(\w+)") as e:
        check_live_keys(cfg, ["binance"])
    assert "oms keys add" in str(e.value)
    m = re.search(r"path secret/exchanges/(\w+)", str(e.value))
    assert m is not None and m.group(1) in names
    with pytest.raises(hvac.exceptions.InvalidPath):
        c.secrets.kv.v2.read_secret_version(path=f"exchanges/{m.group(1)}", raise_on_deleted_version=True)
    for name in names:  # once the keys the exchange files name are there, it starts
        c.secrets.kv.v2.create_or_update_secret(
            path=f"exchanges/{name}", secret={"api_key": "k", "secret": "s"}
        )
    check_live_keys(cfg, ["binance"])


def test_live_plan_has_no_simulator_and_keeps_the_configured_urls(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OMS_VENUES__MODE", '"live"')
    cfg = load(str(CONFIG))
    plan = plan_stack(StackPaths(tmp_path), cfg, 0, "lv", 0)
    assert plan["live"] and not [p for p in plan["programs"] if p.kind == "sim"]
    conn = next(p for p in plan["programs"] if p.name.startswith("conn-"))
    assert not [k for k in conn.env if k.startswith("OMS_EXCHANGES__")]  # the real URLs stay
    monkeypatch.delenv("OMS_VENUES__MODE")
    sim_plan = plan_stack(StackPaths(tmp_path), load(str(CONFIG)), 0, "lv", 0)
    sims = [p for p in sim_plan["programs"] if p.kind == "sim"]
    assert sims and all(p.env["OMS_SIM_VENUE"] in sim_plan["venues"] for p in sims)
    conn = next(p for p in sim_plan["programs"] if p.name.startswith("conn-"))
    assert any(k.endswith("__REST_URL") and "127.0.0.1" in v for k, v in conn.env.items())


def test_exchange_files_are_found_by_venue_and_market() -> None:
    cfg = load(str(CONFIG))
    found = exchange_files(cfg, "okx", [cfg.exchanges["okx_swap"].market])
    assert next(iter(found.values())) is cfg.exchanges["okx_swap"]
    with pytest.raises(ConfigError, match=r"no file with venue = 'okx' and market = that.*_template.toml"):
        exchange_files(cfg, "okx", ["no-such-market"])
    assert "_template" not in cfg.exchanges  # the template is not an exchange


def test_instruments_sync_from_a_separately_started_venue(tmp_path: Path) -> None:
    from oms.venues.sim.binance import SimThread

    with SimThread(seed=5, flow=False) as st:
        reg_path = tmp_path / "instruments.json"
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        out = subprocess.run(
            [str(Path(sys.executable).parent / "oms"), "instruments", "sync", "--config", str(CONFIG),
             "--venue", "binance", "--url", st.url, "--registry", str(reg_path)],
            capture_output=True, text=True, timeout=120, env=env, cwd=str(ROOT),
        )  # fmt: skip
        assert out.returncode == 0, out.stderr[-2000:]
        assert "binance:" in out.stdout and "instruments" in out.stdout
        reg = InstrumentRegistry.open(reg_path)
        spot = reg.resolve("BTC/USDT", venue="binance", market="spot")
        assert spot.tick_size > 0 and spot.id > 0
        first = {i.key: i.id for i in reg.all()}
        subprocess.run(
            out.args, capture_output=True, text=True, timeout=120, env=env, cwd=str(ROOT), check=True
        )
        assert {i.key: i.id for i in InstrumentRegistry.open(reg_path).all()} == first  # ids stay
