"""Connector room: unknown venue orders (report / cancel / adopt) and API key rotation under a
running connector (the secrets store's new version is picked up, the old key can be revoked).
"""

from __future__ import annotations

import uuid
from pathlib import Path

from binance.client import Client

from oms.secrets.local import LocalKeyStore
from oms.secrets.locked import LockedBuffer
from oms.secrets.model import new_metadata
from oms.shm import records as R
from tests.integration.conn.conftest import (
    API_KEY,
    API_SECRET,
    PASS,
    SPOT_BTC,
    Connector,
    command,
    eventually,
    unlink_budgets,
)


def _manual_order(cid: str) -> int:
    c = Client(API_KEY, API_SECRET, ping=False)
    try:
        o = c.create_order(
            symbol="ETHUSDT",
            side="BUY",
            type="LIMIT",
            timeInForce="GTC",
            quantity="0.01",
            price="2000.00",
            newClientOrderId=cid,
        )
        return int(o["orderId"])
    finally:
        c.close_connection()


def _open_cids(sim) -> list[str]:
    def f():
        acct = sim.sim.accounts.keys[API_KEY].account
        return [o.client_id for o in sim.sim.cores["spot"].open_orders(acct, "ETHUSDT")]

    return sim.call(f)


def test_unknown_orders_cancelled_or_adopted(sim, tmp_path: Path) -> None:
    manual = f"manual-{uuid.uuid4().hex[:6]}"
    _manual_order(manual)
    (tmp_path / "a").mkdir()
    c = Connector(
        sim,
        tmp_path / "a",
        f"tu{uuid.uuid4().hex[:8]}",
        extra_env={"OMS_CONNECTOR__ON_UNKNOWN_ORDER": '"cancel"'},
    )
    try:
        c.start()
        eventually(
            lambda: manual not in _open_cids(sim), what="the unknown order cancelled by reconciliation"
        )
        st = c.stats()["reconcile"]
        assert st["unknown_orders"] >= 1 and st["cancelled_unknown"] >= 1
    finally:
        c.close()
    ours_elsewhere = 987_654_321  # an OMS id this connector's journal has never seen
    oid = _manual_order(f"oms-{ours_elsewhere}")
    (tmp_path / "b").mkdir()
    c = Connector(
        sim,
        tmp_path / "b",
        f"tu{uuid.uuid4().hex[:8]}",
        extra_env={"OMS_CONNECTOR__ON_UNKNOWN_ORDER": '"adopt"'},
    )
    try:
        c.start()
        ack = c.wait_event(ours_elsewhere, R.ORDER_ACCEPTED)[0]
        assert ack["venue_order_id"] == oid and int(ack["flags"]) & R.FLAG_REPLAY
        assert f"oms-{ours_elsewhere}" in _open_cids(sim)
        c.send(command(R.CANCEL_ORDER, ours_elsewhere, 2))  # adopted: the OMS can now cancel it
        c.wait_event(ours_elsewhere, R.ORDER_CANCELED)
    finally:
        c.close()


def test_key_rotation_is_picked_up_without_restart(sim, tmp_path: Path) -> None:
    k1, s1 = f"conn-rot1-{uuid.uuid4().hex[:6]}", "conn-rot1-secret-0123456789abcdef"
    sim.call(sim.sim.add_api_key, k1, s1)  # its own key: revoking it must not hurt other tests
    c = Connector(sim, tmp_path, f"tk{uuid.uuid4().hex[:8]}", key=(k1, s1))
    try:
        c.start()
        a = c.new_id()
        c.send(command(R.SUBMIT_ORDER, a, SPOT_BTC, price=5_000_000, qty=500))
        c.wait_event(a, R.ORDER_ACCEPTED)
        k2, s2 = f"conn-rotated-{uuid.uuid4().hex[:6]}", "conn-rotated-secret-0123456789abcdef"
        sim.call(sim.sim.add_api_key, k2, s2, ("SPOT", "FUTURES"), (), None, k1)
        ks = LocalKeyStore(tmp_path / "ks.json", LockedBuffer.from_str(PASS), scrypt_n=2**14)
        ks.put("binance_spot", k2, LockedBuffer.from_str(s2), new_metadata(rotation_days=30))
        ks.close()
        eventually(lambda: c.stats().get("key_version") == 2, what="the connector saw key version 2")
        b = c.new_id()
        c.send(command(R.SUBMIT_ORDER, b, SPOT_BTC, price=5_000_000, qty=500))
        c.wait_event(b, R.ORDER_ACCEPTED)
        sim.call(sim.sim.revoke_api_key, k1)  # the old key is dead now: orders still go through
        d = c.new_id()
        c.send(command(R.SUBMIT_ORDER, d, SPOT_BTC, price=5_000_000, qty=500))
        c.wait_event(d, R.ORDER_ACCEPTED)
        c.send(command(R.CANCEL_ALL, 0, SPOT_BTC))
        for oid in (a, b, d):
            c.wait_event(oid, R.ORDER_CANCELED)
        st = eventually(lambda: (lambda s: s if s["rest"]["client_swaps"] >= 1 else None)(c.stats()))
        assert st["rest"]["errors"] == 0
    finally:
        c.close()
        unlink_budgets(k2)


def test_health_and_rate_budget_reach_the_monitor(sim, tmp_path: Path) -> None:
    import asyncio
    import json
    import threading
    import urllib.request

    from oms.monitor.server import MonitorServer
    from oms.monitor.settings import Settings as MonitorSettings

    loop = asyncio.new_event_loop()
    mon = MonitorServer(MonitorSettings(port=0))
    ready = threading.Event()

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(mon.start())
        ready.set()
        loop.run_forever()
        loop.run_until_complete(mon.stop())

    th = threading.Thread(target=run, daemon=True)
    th.start()
    assert ready.wait(10)
    url = f"http://127.0.0.1:{mon.port}"
    c = Connector(
        sim, tmp_path, f"tm{uuid.uuid4().hex[:8]}", extra_env={"OMS_CONNECTOR__MONITOR_URL": f'"{url}"'}
    )
    try:
        c.start()

        def health() -> dict | None:
            try:
                with urllib.request.urlopen(f"{url}/health/binance_spot", timeout=2) as r:
                    body = json.loads(r.read())
                    return body if r.status == 200 else None
            except OSError:
                return None

        body = eventually(health, what="monitor /health/binance_spot answers 200")
        assert "up" in json.dumps(body).lower()
        with urllib.request.urlopen(f"{url}/metrics", timeout=2) as r:
            metrics = r.read().decode()
        limit = [
            ln for ln in metrics.splitlines() if ln.startswith('oms_rate_limit_max{exchange="binance_spot"}')
        ]
        assert limit and float(limit[0].split()[-1]) == 6000.0  # the venue's weight limit, from exchangeInfo
        assert 'oms_rate_limit_used{exchange="binance_spot"}' in metrics
    finally:
        c.close()
        loop.call_soon_threadsafe(loop.stop)
        th.join(10)


def test_listen_keys_are_kept_alive(sim, tmp_path: Path) -> None:
    c = Connector(
        sim, tmp_path, f"tl{uuid.uuid4().hex[:8]}", extra_env={"OMS_CONNECTOR__LISTEN_KEY_KEEPALIVE_S": "0.3"}
    )
    try:
        c.start()
        st = eventually(
            lambda: (lambda s: s if all(u["keepalives"] >= 2 for u in s["user_streams"].values()) else None)(
                c.stats()
            ),
            what="two keep-alives on each market's listen key",
        )
        assert all(u["keepalive_errors"] == 0 and u["reconnects"] == 0 for u in st["user_streams"].values())
        assert set(st["user_streams"]) == {"spot", "usdm"}
    finally:
        c.close()
