"""Rotation under load: python-binance keeps placing orders on the Binance simulator while the key rotates.

Real parts only: the simulator (loopback HTTP, Binance signing), python-binance, the local keystore or a
real OpenBao, the `ClientHolder` hot reload, the `Rotator` + `RotationScheduler`, and the simulator's
admin HTTP API as the venue's key issuer/revoker. Each simulator key gets its own account, so the
simulator's order book shows which key placed every order. Offered load is a constant rate, bounded
in count and time.
"""

from __future__ import annotations

import dataclasses
import json
import secrets
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from binance import Client
from binance.exceptions import BinanceAPIException

from oms.secrets.audit import JsonlAuditSink
from oms.secrets.holder import ClientHolder
from oms.secrets.local import LocalKeyStore
from oms.secrets.locked import LockedBuffer
from oms.secrets.model import Credential, KeyMetadata, KeyStore, new_metadata
from oms.secrets.rotation import RotationScheduler, Rotator
from oms.secrets.settings import Settings
from oms.secrets.vault import VaultKeyStore
from oms.services.openbao import OpenBaoServer
from oms.testing import eventually
from oms.venues.sim.binance import RateLimits, SimThread, default_config, point_python_binance

RATE_HZ = 40.0  # constant offered order rate
GRACE_S = 1.5
MAX_ORDERS = 1500
MAX_SECONDS = 45.0


class SimKeyAdmin:
    """The simulator's key admin over its HTTP admin API: issue (POST /_sim/keys), revoke (/_sim/revoke)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.revoked: list[str] = []

    def _post(self, what: str, body: dict[str, object]) -> None:
        req = urllib.request.Request(
            f"{self.url}/_sim/{what}", json.dumps(body).encode(), {"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(req, timeout=5) as r:
            assert json.loads(r.read())["ok"] is True

    def issue(self, name: str, previous: KeyMetadata) -> tuple[str, LockedBuffer]:
        key, secret = "AK" + secrets.token_hex(16), secrets.token_hex(32)
        self._post(
            "keys", {"key": key, "secret": secret, "permissions": list(previous.permissions or ("SPOT",))}
        )
        return key, LockedBuffer.from_str(secret)

    def revoke(self, name: str, credential: Credential) -> None:
        self._post("revoke", {"key": credential.api_key})
        self.revoked.append(credential.api_key)


@pytest.fixture
def sim():  # type: ignore[no-untyped-def]
    cfg = default_config()
    cfg.flow = False
    cfg.spot_limits = dataclasses.replace(RateLimits(), orders_per_10s=100_000, weight_per_minute=1_000_000)
    with SimThread(seed=7, config=cfg) as st:
        restore = point_python_binance(st.url, st.ws_url)
        try:
            yield st
        finally:
            restore()


def _order(client: Client, i: int) -> dict:  # type: ignore[type-arg]
    return client.create_order(
        symbol="BTCUSDT",
        side="BUY",
        type="LIMIT",
        timeInForce="GTC",
        quantity="0.001",
        price="30000.00",
        newClientOrderId=f"rot-{i}",
    )


@pytest.fixture(params=["local", "vault"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[KeyStore]:
    """The same rotation under load on both stores: the local keystore and a real OpenBao (KV v2)."""
    if request.param == "local":
        ks: KeyStore = LocalKeyStore(tmp_path / "ks.json", LockedBuffer.from_str("load-test"), scrypt_n=2**14)
    else:
        bao: OpenBaoServer = request.getfixturevalue("openbao_server")
        ks = VaultKeyStore(bao.url, token=bao.root_token, prefix=f"exchanges-load-{uuid.uuid4().hex[:8]}")
    yield ks
    ks.close()


def test_rotation_under_load_drops_no_order(sim: SimThread, store: KeyStore, tmp_path: Path) -> None:
    admin = SimKeyAdmin(sim.url)
    k1, s1 = admin.issue("binance_spot", KeyMetadata(permissions=("SPOT",)))
    old_secret = s1.reveal()
    store.put("binance_spot", k1, s1, new_metadata(permissions=("SPOT",), rotation_days=30))
    audit = JsonlAuditSink(tmp_path / "audit.jsonl")
    rot = Rotator(
        store, audit, Settings(grace_s=GRACE_S), revokers={"binance": admin}, issuers={"binance": admin}
    )
    holder: ClientHolder[Client] = ClientHolder(
        store,
        "binance_spot",
        lambda c: Client(c.api_key, c.secret.reveal(), ping=False),
        audit=audit,
        close_client=lambda c: c.close_connection(),
        interval=0.05,
    )
    sched = RotationScheduler(rot, interval=0.05).start()
    ok: list[tuple[int, float]] = []  # (orderId, send time)
    failed: list[str] = []
    stop = threading.Event()

    def trade() -> None:
        t0 = time.monotonic()
        for i in range(MAX_ORDERS):
            due = t0 + i / RATE_HZ
            if stop.wait(max(0.0, due - time.monotonic())) or time.monotonic() - t0 > MAX_SECONDS:
                return
            sent = time.monotonic()
            try:
                r = _order(holder.client, i)
                assert r["status"] == "NEW"
                ok.append((int(r["orderId"]), sent))
            except (BinanceAPIException, AssertionError, OSError) as e:
                failed.append(
                    f"order {i}: {type(e).__name__} {getattr(e, 'code', '')} {getattr(e, 'message', '')}"
                )

    trader = threading.Thread(target=trade, name="trader")
    trader.start()
    try:
        eventually(lambda: len(ok) >= 40 or failed, timeout=20)
        res = rot.rotate("binance_spot")
        eventually(lambda: holder.version == res.new_version, timeout=5)
        switched_at = time.monotonic()
        eventually(lambda: admin.revoked == [k1], timeout=GRACE_S + 10)
        revoked_at = time.monotonic()
        n_at_revoke = len(ok)
        eventually(lambda: len(ok) >= n_at_revoke + 40 or failed, timeout=20)
    finally:
        stop.set()
        trader.join(timeout=30)
        sched.stop()
        holder.stop()
    assert failed == [], failed[:5]
    k2 = store.get("binance_spot").api_key
    # what the simulator saw: which key's account placed each order
    owners = sim.call(lambda: {o.order_id: o.account.uid for o in sim.sim.cores["spot"].orders.values()})
    uid1 = sim.call(lambda: sim.sim.accounts.keys[k1].account.uid)
    uid2 = sim.call(lambda: sim.sim.accounts.keys[k2].account.uid)
    by_key = {uid1: 0, uid2: 0}
    for oid, _sent in ok:
        by_key[owners[oid]] += 1
    assert by_key[uid1] >= 40 and by_key[uid2] >= 40
    after_switch = [owners[oid] for oid, sent in ok if sent > switched_at + 0.01]
    assert after_switch and set(after_switch) == {uid2}, "an order after the switch used the old key"
    assert all(owners[oid] == uid2 for oid, sent in ok if sent > revoked_at)
    # the old key is refused after the grace period, the new one works
    with pytest.raises(BinanceAPIException) as ei:
        _order(Client(k1, old_secret, ping=False), 10_000)
    assert ei.value.code == -2015
    assert _order(holder.client, 10_001)["status"] == "NEW"
    actions = [e["action"] for e in audit.read()]
    for step in ("key.rotate.written", "key.grace", "key.reloaded", "key.revoked"):
        assert step in actions
    assert actions.index("key.reloaded") < actions.index("key.revoked")
    grace_used = revoked_at - switched_at
    print(
        f"orders ok={len(ok)} failed=0 old-key={by_key[uid1]} new-key={by_key[uid2]} "
        f"switch->revoke {grace_used:.2f}s"
    )
    store.close()
