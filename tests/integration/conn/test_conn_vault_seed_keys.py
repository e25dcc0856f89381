"""Connector room + secrets room: a key written by hand into a real OpenBao with the seed's field names
(`secret/<prefix>/binance_spot`: `binance_spot_api_key`, `binance_spot_secret_key`, no metadata) is used by
a real connector process against the Binance simulator, with no conversion step.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from pathlib import Path

from oms.services.openbao import OpenBaoServer
from oms.shm import records as R
from tests.integration.conn.conftest import API_KEY, API_SECRET, SPOT_BTC, Connector, command


def test_hand_written_seed_key_in_openbao_places_orders(
    sim, openbao_server: OpenBaoServer, tmp_path: Path
) -> None:
    prefix = f"seed{uuid.uuid4().hex[:8]}/exchanges"
    root = openbao_server.client()
    try:  # what a team's own script writes: the seed's field names, nothing else
        root.secrets.kv.v2.create_or_update_secret(
            path=f"{prefix}/binance_spot",
            mount_point="secret",
            secret={"binance_spot_api_key": API_KEY, "binance_spot_secret_key": API_SECRET},
        )
    finally:
        root.adapter.close()
    env = {
        "OMS_SECRETS__BACKEND": '"vault"',
        "OMS_SECRETS__VAULT_URL": f'"{openbao_server.url}"',
        "OMS_SECRETS__VAULT_PREFIX": f'"{prefix}"',
        "OMS_EXCHANGES__BINANCE_SPOT__CREDENTIALS__REQUIRED": "true",
        "VAULT_TOKEN": openbao_server.root_token,
    }
    c = Connector(sim, tmp_path, f"tv{uuid.uuid4().hex[:8]}", extra_env=env)
    try:
        c.start()
        oid = c.new_id()
        st = sim.call(sim.sim.state)["markets"]["spot"]["BTCUSDT"]
        px = int(Decimal(st["best_bid"]) / Decimal("0.01")) - 100_000  # rests 1000 USDT under the bid
        c.send(command(R.SUBMIT_ORDER, oid, SPOT_BTC, price=px, qty=1000))
        ack = c.wait_event(oid, R.ORDER_ACCEPTED)[0]
        assert ack["venue_order_id"] > 0
        # the simulator placed it under the hand-written key's account
        acct = sim.call(lambda: sim.sim.accounts.keys[API_KEY].account)
        assert sim.call(lambda: len(sim.sim.cores["spot"].open_orders(acct, "BTCUSDT"))) == 1
        c.send(command(R.CANCEL_ORDER, oid, SPOT_BTC))
        c.wait_event(oid, R.ORDER_CANCELED)
        assert "old field names" not in c.logs()
        assert c.stop() == 0
    finally:
        c.close()
