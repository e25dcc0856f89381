"""The `keys` program (oms/procs/keys.py) carries out a due rotation by itself, under load, and its alerts
reach the webhook through the monitor program.

Real parts: the Binance simulator (its admin key API plays a venue that issues and revokes keys: the
`[secrets] key_admins` plugin in sim_key_admin.py), python-binance placing orders at a constant rate
through a `ClientHolder` (the connector's hot reload) on a real local keystore, nats-server, the `keys`
and `monitor` programs as subprocesses, and a loopback HTTP server standing in for the Slack webhook.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

from binance import Client
from binance.exceptions import BinanceAPIException

from oms.credentials import write_private
from oms.secrets.audit import JsonlAuditSink
from oms.secrets.holder import ClientHolder
from oms.secrets.local import LocalKeyStore
from oms.secrets.locked import LockedBuffer
from oms.secrets.model import DAY, KeyMetadata, new_metadata
from oms.services.nats import NatsServer
from oms.testing import eventually
from oms.venues.sim.binance import RateLimits, SimThread, default_config, point_python_binance
from tests.integration.secrets.sim_key_admin import SimKeyAdmin

ROOT = Path(__file__).resolve().parents[3]
PASS = "keys-program-test"
INTERVAL_S = 0.5
GRACE_S = 1.5
DUE_IN_S = 4.0
RATE_HZ = 30.0


class _Hook(BaseHTTPRequestHandler):
    """Stands in for the Slack incoming webhook (records each posted text)."""

    got: ClassVar[list[str]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        _Hook.got.append(body["text"])
        self.send_response(200)
        self.end_headers()

    def log_message(self, *a: object) -> None:
        pass


def _config(tmp: Path, hook_port: int) -> Path:
    p = tmp / "oms.toml"
    p.write_text(
        f"""
[monitor]
port = 0
probe_interval_s = 0
conn_stats_glob = ""
slack_webhook_url = "http://127.0.0.1:{hook_port}/hook"

[secrets]
backend = "local"
keystore_path = "{tmp / "ks.json"}"
scrypt_n = 16384
schedule_interval_s = {INTERVAL_S}
grace_s = {GRACE_S}
alert_before_days = 7
audit_path = "{tmp / "audit.jsonl"}"
key_admins = {{ binance = "tests.integration.secrets.sim_key_admin:factory" }}
"""
    )
    return p


def test_due_rotation_runs_by_itself_with_no_failed_order(nats_server: NatsServer, tmp_path: Path) -> None:
    cfg = default_config()
    cfg.flow = False
    cfg.spot_limits = dataclasses.replace(RateLimits(), orders_per_10s=100_000, weight_per_minute=1_000_000)
    sim = SimThread(seed=3, config=cfg).start()
    restore = point_python_binance(sim.url, sim.ws_url)
    hook = ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    threading.Thread(target=hook.serve_forever, daemon=True).start()
    _Hook.got = []
    config = _config(tmp_path, hook.server_address[1])
    admin = SimKeyAdmin(sim.url)
    k1, s1 = admin.issue("binance_spot", KeyMetadata(permissions=("SPOT",)))
    old_secret = s1.reveal()
    ks = LocalKeyStore(tmp_path / "ks.json", LockedBuffer.from_str(PASS), scrypt_n=2**14)
    # a key of a venue without a key API, due in 3 days: the schedule can only tell a person
    ks.put("bybit_linear", "BYBITKEY", LockedBuffer.from_str("s" * 32),
           new_metadata(rotation_days=30, now=time.time() - 27 * DAY))  # fmt: skip
    due_at = 0.0
    holder: ClientHolder[Client] | None = None
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "OMS_KEYSTORE_PASSPHRASE": PASS,
        "OMS_TEST_SIM_ADMIN_URL": sim.url,
    }
    creds = {}  # each program logs in to NATS as itself, as under `oms up` (a 0600 credential file)
    for prog in ("monitor", "keys"):
        creds[prog] = {**env, "OMS_CREDENTIALS": str(write_private(
            tmp_path / f"{prog}.cred.json", json.dumps({"nats": nats_server.credential(prog)})))}  # fmt: skip
    procs = [  # the monitor first, as `oms up` starts it: alerts are plain NATS messages to it
        subprocess.Popen([sys.executable, "-m", "oms.procs.monitor", "--config", str(config), "--nats-url",
                          nats_server.url], env=creds["monitor"], cwd=ROOT,
                         stderr=open(tmp_path / "monitor.err", "wb")),  # noqa: SIM115
    ]  # fmt: skip
    eventually(
        lambda: "monitor listening" in (tmp_path / "monitor.err").read_text(), 30, message="monitor up"
    )
    procs.append(
        subprocess.Popen([sys.executable, "-m", "oms.procs.keys", "--config", str(config), "--nats-url",
                          nats_server.url], env=creds["keys"], cwd=ROOT, stdout=subprocess.PIPE,
                         stderr=open(tmp_path / "keys.err", "wb"))  # noqa: SIM115
    )  # fmt: skip
    ok: list[tuple[int, float]] = []
    failed: list[str] = []
    stop = threading.Event()

    def trade() -> None:
        t0 = time.monotonic()
        for i in range(2000):
            if stop.wait(max(0.0, t0 + i / RATE_HZ - time.monotonic())):
                return
            sent = time.monotonic()
            try:
                assert holder is not None
                r = holder.client.create_order(
                    symbol="BTCUSDT", side="BUY", type="LIMIT", timeInForce="GTC", quantity="0.001",
                    price="30000.00", newClientOrderId=f"k-{i}",
                )  # fmt: skip
                ok.append((int(r["orderId"]), sent))
            except (BinanceAPIException, OSError) as e:
                failed.append(f"order {i}: {type(e).__name__} {getattr(e, 'code', '')} {e}")

    trader = threading.Thread(target=trade, name="trader")
    try:
        assert procs[1].stdout is not None and b"KEYS READY" in procs[1].stdout.readline(), (
            tmp_path / "keys.err"
        ).read_text()[-3000:]
        eventually(lambda: any("rotation_soon" in t and "bybit_linear" in t for t in _Hook.got), 15)
        due_at = time.time() + DUE_IN_S  # this key's 30 days end a few seconds from now
        meta = new_metadata(permissions=("SPOT",), rotation_days=30, now=due_at - 30 * DAY)
        ks.put("binance_spot", k1, s1, meta)
        holder = ClientHolder(
            ks, "binance_spot", lambda c: Client(c.api_key, c.secret.reveal(), ping=False),
            audit=JsonlAuditSink(tmp_path / "holder.jsonl"), close_client=lambda c: c.close_connection(),
            interval=0.05,
        )  # fmt: skip
        trader.start()
        eventually(lambda: any("rotation_soon" in t and "binance_spot" in t for t in _Hook.got), 10)
        rotated = eventually(lambda: ks.current_version("binance_spot") == 2 and time.time(), DUE_IN_S + 15)
        assert rotated - due_at <= INTERVAL_S + 2.0, f"rotated {rotated - due_at:.2f}s after it was due"
        eventually(lambda: holder is not None and holder.version == 2, 5, message="holder on the new key")
        switched = time.monotonic()

        def old_key_refused() -> bool:
            try:
                Client(k1, old_secret, ping=False).get_account()
            except BinanceAPIException as e:
                return e.code == -2015
            return False

        eventually(old_key_refused, GRACE_S + 10, interval=0.1, message="old key revoked at the venue")
        n = len(ok)
        eventually(lambda: len(ok) >= n + 20 or failed, 20)
    finally:
        stop.set()
        if trader.is_alive():
            trader.join(30)
        if holder is not None:
            holder.stop()
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(5)
        hook.shutdown()
        restore()
        owners = sim.call(lambda: {o.order_id: o.account.uid for o in sim.sim.cores["spot"].orders.values()})
        k2 = ks.get("binance_spot").api_key if ks.current_version("binance_spot") == 2 else k1
        uid2 = sim.call(lambda: sim.sim.accounts.keys[k2].account.uid)
        sim.stop()
    assert failed == [], failed[:5]
    assert k2 != k1 and len(ok) >= 60
    assert all(owners[oid] == uid2 for oid, sent in ok if sent > switched + 0.01)
    actions = [json.loads(ln)["action"] for ln in (tmp_path / "audit.jsonl").read_text().splitlines()]
    for step in ("key.schedule.start", "key.alert", "key.rotate.start", "key.rotate.written", "key.grace",
                 "key.schedule.rotated", "key.revoked"):  # fmt: skip
        assert step in actions, (step, actions)
    assert any("key_rotated" in t and "binance_spot" in t for t in _Hook.got), _Hook.got
    assert [p.returncode for p in procs] == [0, 0], (tmp_path / "keys.err").read_text()[-2000:]
    ks.close()
