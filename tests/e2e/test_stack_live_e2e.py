"""Live mode end to end: a venue simulator started on its own (as if it were the real venue), the whole
stack under `oms up` with `[venues] mode = "live"` — no simulator program, the URLs of
configs/exchanges/ as written, the API key from the `[secrets]` keystore — and a market order through the
gateway that fills at that venue. Also: live mode with the key missing refuses to start, naming where
the key was looked for, before anything runs."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from oms.cli.stack import StackPaths
from oms.secrets.local import LocalKeyStore
from oms.secrets.locked import LockedBuffer
from oms.secrets.model import new_metadata
from tests.e2e.test_stack_e2e import _client, _config, _filled_order, _oms

KEY, SECRET, PASS = "live-e2e-key", "live-e2e-secret-0123456789abcdef", "live-e2e-pass-0123456789"


def _live_config(root: Path, prefix: str, url: str, ws: str) -> Path:
    cfg = _config(root, prefix)
    ex = cfg.parent / "exchanges"
    for name, stream in (("binance_spot", f"{ws}/ws"), ("binance_usdm", f"{ws}/fstream/ws")):
        p = ex / f"{name}.toml"
        text = re.sub(r'(?m)^rest_url = ".*"$', f'rest_url = "{url}"', p.read_text())
        p.write_text(re.sub(r'(?m)^ws_url = ".*"$', f'ws_url = "{stream}"', text))
    pw = root / "keystore.pass"
    pw.write_text(PASS)
    pw.chmod(0o600)
    with cfg.open("a") as f:
        f.write(
            f'\n[venues]\nmode = "live"\n\n[secrets]\nbackend = "local"\n'
            f'keystore_path = "{root / "ks.json"}"\npassphrase_file = "{pw}"\nscrypt_n = 16384\n'
        )
    return cfg


def _add_keys(root: Path, cfg_path: Path) -> None:
    from oms.config import load

    cfg = load(str(cfg_path))
    names = {x.credentials.key for x in cfg.exchanges.values() if x.venue == "binance" and x.enabled}
    ks = LocalKeyStore(root / "ks.json", LockedBuffer.from_str(PASS), scrypt_n=2**14)
    try:
        for name in names:  # the names the exchange files give
            ks.put(
                name,
                KEY,
                LockedBuffer.from_str(SECRET),
                new_metadata(permissions=("SPOT", "FUTURES"), rotation_days=30),
            )
    finally:
        ks.close()


@pytest.fixture(scope="module")
def venue() -> Iterator[Any]:
    from oms.venues.sim.binance import SimThread

    with SimThread(seed=31) as st:
        st.call(st.sim.add_api_key, KEY, SECRET)
        yield st


def test_live_mode_without_the_key_refuses_to_start(venue: Any, tmp_path: Path) -> None:
    cfg = _live_config(tmp_path, f"lvx{os.getpid() % 10000}", venue.url, venue.ws_url)
    out = _oms("up", "--root", str(tmp_path), "--config", str(cfg), "--monitor-port", "0")
    assert out.returncode != 0
    assert (
        "missing API key" in out.stderr
        and f"keystore {tmp_path / 'ks.json'} entry 'binance_spot'" in out.stderr
    )
    assert not StackPaths(tmp_path).pidfile.exists()  # nothing was started


@pytest.fixture(scope="module")
def live_stack(venue: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    root = tmp_path_factory.mktemp("live")
    cfg = _live_config(root, f"lv{os.getpid() % 10000}", venue.url, venue.ws_url)
    _add_keys(root, cfg)
    up = _oms("up", "--root", str(root), "--config", str(cfg), "--monitor-port", "0", timeout=240)
    paths = StackPaths(root)
    try:
        assert paths.stack_json.exists(), up.stdout + up.stderr
        st = json.loads(paths.stack_json.read_text())
        st["_paths"] = paths
        yield st
    finally:
        down = _oms("down", "--root", str(root))
        assert down.returncode == 0, down.stderr


def test_live_stack_has_no_simulator_and_an_order_fills_at_the_venue(
    live_stack: dict[str, Any], venue: Any
) -> None:
    assert not [p for p in live_stack["programs"] if p.startswith("sim-")], live_stack["programs"]
    assert "conn-binance" in live_stack["programs"]
    c = _client(live_stack)
    coid = _filled_order(c)

    from binance.client import Client

    rest = Client(KEY, SECRET, ping=False)
    rest.API_URL = venue.url + "/api"
    try:
        mine = [o for o in rest.get_all_orders(symbol="BTCUSDT") if o["clientOrderId"] == f"oms-{coid}"]
    finally:
        rest.close_connection()
    assert len(mine) == 1 and mine[0]["status"] == "FILLED", mine  # once, at the separately started venue
