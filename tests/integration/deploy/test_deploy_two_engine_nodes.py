"""Scale-out: two real engine nodes (own shm prefix, own connector, own accounts) behind one NATS.

Node a owns account 1, node b account 3 (each engine's [risk].accounts, and the [bus].owners table of
oms/bus/route.py). Orders for both accounts are sent to the public cmd.submit subject; whichever node's
intake receives one, it reaches the engine owning its account, goes through that node's connector to
the Binance simulator, and fills: exactly one fill event per order, on its owner's node only.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from decimal import Decimal
from pathlib import Path

import msgspec
import nats
import numpy as np

from oms.bus.bridge import connect_nats
from oms.bus.intake import CommandIntake, Reply
from oms.bus.route import AccountRouter
from oms.bus.settings import IntakeSender
from oms.services.nats import NatsServer
from oms.shm import names
from oms.shm import records as R
from oms.shm.ring import open_ring
from oms.testing import eventually_async
from tests.integration.conn.conftest import SPOT_BTC, Connector

# the remote sender the intake hears (oms/bus/intake.py: senders, their accounts and rate)
SENDERS = {"desk": IntakeSender(accounts=[1, 2, 3, 4], rate_per_s=1e6, burst=10**6)}
OWNERS = {"node-a": [1], "node-b": [3]}
KEYS = {
    "node-a": ("scale-key-a", "scale-secret-a-0123456789abcdef"),
    "node-b": ("scale-key-b", "scale-secret-b-0123456789abcdef"),
}
_reply = msgspec.json.Decoder(Reply)


class Node:
    """One engine node: its engine process, connector process, and the test's ends of its rings."""

    def __init__(self, name: str, sim, tmp: Path) -> None:
        self.name, self.prefix, self.dir = name, f"sn{uuid.uuid4().hex[:7]}", tmp / name
        self.dir.mkdir()
        cap = 1 << 12
        self.gw = open_ring(names.gateway_commands(self.prefix), R.COMMAND, cap, producer=True)
        self.md_eng = open_ring(names.market_data_to_engine(self.prefix), R.MARKET, cap, producer=True)
        self.ev_br = open_ring(names.engine_events_to_bridge(self.prefix), R.EVENT, cap, producer=False)
        self.ev_gw = open_ring(names.engine_events_to_gateway(self.prefix), R.EVENT, cap, producer=False)
        self.conn = Connector(sim, self.dir, self.prefix, engine_rings=False, key=KEYS[name])
        (self.dir / "oms.toml").write_text(
            f"[risk]\naccounts = {OWNERS[name]}\nprice_deviation_bps = 500\nmax_order_qty = 100000\n"
        )
        self.err = open(self.dir / "engine.err", "w")  # noqa: SIM115
        argv = [sys.executable, "-m", "oms.procs.engine", "--config", str(self.dir / "oms.toml")]
        argv += [
            "--prefix",
            self.prefix,
            "--venues",
            "binance",
            "--instruments",
            str(self.dir / "instruments.toml"),
        ]
        argv += ["--event-log", str(self.dir / "events.bin")]
        self.engine = subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=self.err, text=True, env=dict(os.environ, OMS_NO_SPIN="1")
        )
        self.events: list[np.void] = []
        self.bbo = False
        self.cmds = None

    def ready(self) -> None:
        assert self.engine.stdout is not None
        line = self.engine.stdout.readline()
        assert "ENGINE READY" in line, (self.dir / "engine.err").read_text()[-3000:]
        self.cmds = open_ring(names.bridge_commands(self.prefix), R.COMMAND, 1 << 12, producer=True)

    def poll(self) -> None:
        mbuf, ebuf = np.zeros(4096, R.MARKET), np.zeros(256, R.EVENT)
        while n := self.conn.md.consume(mbuf):  # play marketdata: connector md ring -> engine md ring
            self.bbo |= bool(((mbuf[:n]["kind"] == R.MD_BBO) & (mbuf[:n]["instrument"] == SPOT_BTC)).any())
            i = 0
            while i < n:
                i += self.md_eng.publish_batch(mbuf[i:n])
        while n := self.ev_br.consume(ebuf):
            self.events.extend(ebuf[:n].copy())
        self.ev_gw.consume(ebuf)

    def fills(self, oid: int) -> list[np.void]:
        self.poll()
        return [
            e for e in self.events if int(e["kind"]) == R.ORDER_FILLED and int(e["client_order_id"]) == oid
        ]

    def close(self) -> None:
        if self.engine.poll() is None:
            self.engine.terminate()
            try:
                self.engine.wait(20)
            except subprocess.TimeoutExpired:
                self.engine.kill()
                self.engine.wait(5)
        self.err.close()
        self.conn.close()
        for r in (self.gw, self.md_eng, self.ev_br, self.ev_gw, self.cmds):
            if r is not None:
                r.close()
                r.unlink()
        for n in (
            names.engine_commands_to_venue("binance", self.prefix),
            names.venue_exec_events("binance", self.prefix),
        ):
            Path(f"/dev/shm/{n}").unlink(missing_ok=True)


async def test_orders_for_accounts_on_two_nodes_fill_once_each(
    sim, counterparty, nats_js: NatsServer, tmp_path: Path
) -> None:
    for key, secret in KEYS.values():
        sim.call(sim.sim.add_api_key, key, secret)
    nodes = {n: Node(n, sim, tmp_path) for n in OWNERS}
    conns = []
    client = await nats.connect(nats_js.admin_url)
    try:
        for node in nodes.values():
            node.ready()
            node.conn.start()
            nc = await connect_nats(nats_js.admin_url, f"bridge-{node.name}")
            conns.append(nc)
            await AccountRouter(CommandIntake(node.cmds, senders=SENDERS), node.name, OWNERS, nc).subscribe(
                nc
            )
        await eventually_async(
            lambda: all((n.poll(), n.bbo)[1] for n in nodes.values()), 120, max_interval=0.1
        )
        st = sim.call(sim.sim.state)["markets"]["spot"]["BTCUSDT"]
        mid = int((Decimal(st["best_bid"]) + Decimal(st["best_ask"])) / 2 / Decimal("0.01"))
        orders = {}  # oid -> (node, account, price in ticks)
        base = int(uuid.uuid4().int % 1_000_000) * 100
        for i, (name, account) in enumerate((("node-a", 1), ("node-b", 3), ("node-a", 1), ("node-b", 3))):
            oid, px = base + i + 1, mid - i  # distinct prices: one counterparty sell fills one order
            body = {"client_order_id": oid, "account": account, "instrument": SPOT_BTC, "side": "buy",
                    "price": px, "qty": 300, "seq": i + 1}  # fmt: skip
            r = _reply.decode(
                (
                    await client.request(
                        "cmd.desk.submit.binance.spot.BTCUSDT", msgspec.json.encode(body), timeout=5
                    )
                ).data
            )
            assert r.ok and r.accepted == 1, r
            orders[oid] = (name, account, px)
        for oid, (name, _account, px) in sorted(orders.items(), key=lambda kv: -kv[1][2]):
            accepted = lambda n=nodes[name], o=oid: any(  # noqa: E731
                int(e["kind"]) == R.ORDER_ACCEPTED and int(e["client_order_id"]) == o
                for e in (n.poll(), n.events)[1]
            )
            await eventually_async(accepted, 90, max_interval=0.1)  # generous: a loaded 2-core box
            counterparty.create_order(
                symbol="BTCUSDT", side="SELL", type="LIMIT", timeInForce="IOC", quantity="0.003",
                price=f"{Decimal(px) * Decimal('0.01'):.2f}",
            )  # fmt: skip
            await eventually_async(lambda n=nodes[name], o=oid: n.fills(o), 90, max_interval=0.1)
        for oid, (name, _account, _px) in orders.items():
            other = next(n for n in nodes if n != name)
            mine = nodes[name].fills(oid)
            assert len(mine) == 1 and int(mine[0]["cum_qty"]) == 300, (oid, mine)
            assert nodes[other].fills(oid) == []  # the other node never saw it
    finally:
        await client.close()
        for nc in conns:
            await nc.close()
        for node in nodes.values():
            node.close()
