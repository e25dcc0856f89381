"""Benchmark (connector room): orders/s and ack latency ring → connector → Binance simulator → ring,
with python-binance's plain request loop against the same simulator as the peer, in the same run.

Touches a temporary directory (keystore, journal, stats), three shm rings of a unique prefix and
loopback ports; everything is stopped and removed at the end. Processes: the simulator
(`BinanceSim`, its own process, generous rate limits, no synthetic flow), the connector
(`python -m oms.procs.connector --venue binance`, spot only, no market data) and this driver, which
plays the engine (writes SubmitOrder records, reads OrderAccepted) and then runs the peer.
Orders are spot BTCUSDT IOC limit buys far under the market: each is acked, then expires at once,
so the venue's open-order limit never fills up.

Phases:
 1. throughput: --orders orders at once → time until the last ack (connector), vs the same number
    sent one after another with python-binance's sync `Client.create_order` (the plain loop), and
    with `AsyncClient` keeping --concurrency requests in flight.
 2. latency at a constant offered rate (--rate orders/s for --seconds; latency counts from each
    order's scheduled time, so a stall is not hidden): connector vs AsyncClient at the same rate.
    HDR histograms (µs): p50, p99, p99.9, max.
Usage: .venv/bin/python bench/connector.py [--rate 200] [--seconds 3] [--orders 400] [--json]
(CI=true: shorter)
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np
from hdrh.histogram import HdrHistogram

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
KEY, SECRET, PASS = "bench-conn-key", "bench-conn-secret-0123456789abcdef", "bench-conn-pass"
PRICE = "50000.00"  # far under the simulator's 60000 market: IOC expires unfilled
INSTRUMENTS = """[[instrument]]
id = 1
venue = "binance"
market = "spot"
symbol = "BTCUSDT"
base = "BTC"
quote = "USDT"
tick_size = "0.01"
lot_size = "0.00001"
"""
SIM = f"""
KEY, SECRET = {KEY!r}, {SECRET!r}
import asyncio
from oms.venues.sim.binance import BinanceSim, RateLimits, default_config
async def main():
    cfg = default_config()
    cfg.spot_limits = RateLimits(weight_per_minute=10**8, orders_per_10s=10**8, orders_per_day=10**9)
    cfg.flow = False
    sim = BinanceSim(seed=1, config=cfg)
    await sim.start("127.0.0.1", 0)
    sim.add_api_key(KEY, SECRET)
    print(sim.port, flush=True)
    await asyncio.Event().wait()
asyncio.run(main())
"""


class Lat:
    def __init__(self) -> None:
        self.h = HdrHistogram(1, 60_000_000, 3)  # µs

    def add(self, us: float) -> None:
        self.h.record_value(max(1, int(us)))

    def row(self) -> dict[str, float]:
        h = self.h
        return {
            "count": h.get_total_count(),
            "p50_us": h.get_value_at_percentile(50),
            "p99_us": h.get_value_at_percentile(99),
            "p999_us": h.get_value_at_percentile(99.9),
            "max_us": h.get_max_value(),
        }


class Rig:
    """Simulator + connector processes and the driver's ends of the rings."""

    def __init__(self, tmp: Path) -> None:
        from oms.secrets.local import LocalKeyStore
        from oms.secrets.locked import LockedBuffer
        from oms.secrets.model import new_metadata
        from oms.shm import names
        from oms.shm import records as R
        from oms.shm.ring import Ring

        self.R = R
        self.tmp = tmp
        self.prefix = f"bc{uuid.uuid4().hex[:8]}"
        self.sim = subprocess.Popen([sys.executable, "-c", SIM], stdout=subprocess.PIPE, text=True, cwd=ROOT)
        assert self.sim.stdout is not None
        self.port = int(self.sim.stdout.readline())
        self.url, self.ws = f"http://127.0.0.1:{self.port}", f"ws://127.0.0.1:{self.port}"
        ks = LocalKeyStore(tmp / "ks.json", LockedBuffer.from_str(PASS), scrypt_n=2**14)
        ks.put("binance_spot", KEY, LockedBuffer.from_str(SECRET), new_metadata(rotation_days=30))
        ks.close()
        (tmp / "instruments.toml").write_text(INSTRUMENTS)
        self.cmd = Ring.create(
            names.engine_commands_to_venue("binance", self.prefix), R.COMMAND, 1 << 14, producer=True
        )
        self.exec = Ring.create(
            names.venue_exec_events("binance", self.prefix), R.EVENT, 1 << 15, consumer=True
        )
        self.md = Ring.create(
            names.venue_market_data("binance", self.prefix), R.MARKET, 1 << 10, consumer=True
        )
        env = dict(os.environ)
        env.update({
            "OMS_EXCHANGES__BINANCE_SPOT__REST_URL": f'"{self.url}"',
            "OMS_EXCHANGES__BINANCE_SPOT__WS_URL": f'"{self.ws}/ws"',
            "OMS_SECRETS__BACKEND": '"local"',
            "OMS_SECRETS__KEYSTORE_PATH": f'"{tmp / "ks.json"}"',
            "OMS_SECRETS__SCRYPT_N": "16384",
            "OMS_KEYSTORE_PASSPHRASE": PASS,
            "OMS_CONNECTOR__MARKETS": '["spot"]',
            "OMS_CONNECTOR__MARKET_DATA": "false",
            "OMS_CONNECTOR__JOURNAL_DIR": f'"{tmp}"',
            "OMS_CONNECTOR__STATS_PATH": f'"{tmp / "stats.json"}"',
            "OMS_LOGGING__LEVEL": '"WARNING"',
        })  # fmt: skip
        self.log = open(tmp / "connector.log", "w")  # noqa: SIM115
        prof = (
            ["-m", "cProfile", "-o", os.environ["BENCH_PROFILE"]] if os.environ.get("BENCH_PROFILE") else []
        )
        self.conn = subprocess.Popen(
            [sys.executable, *prof, "-m", "oms.procs.connector", "--venue", "binance",
             "--prefix", self.prefix, "--config", str(ROOT / "configs" / "oms.toml"),
             "--instruments", str(tmp / "instruments.toml")],
            cwd=tmp, env=env, stdout=self.log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while True:
            try:
                st = json.loads((tmp / "stats.json").read_text())
                if st["health"]["state"] == "UP" and st["reconcile"]["runs"] >= 1:
                    break
            except (OSError, ValueError, KeyError):
                pass
            if self.conn.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"connector did not come up:\n{(tmp / 'connector.log').read_text()[-3000:]}")
            time.sleep(0.05)
        self.next_id = 1
        self.out = np.zeros(1024, R.EVENT)

    def commands(self, n: int) -> tuple[np.ndarray, list[int]]:
        R = self.R
        c = np.zeros(n, R.COMMAND)
        ids = list(range(self.next_id, self.next_id + n))
        self.next_id += n
        c["kind"] = R.SUBMIT_ORDER
        c["venue"] = 1
        c["market"] = 1
        c["account"] = 1
        c["instrument"] = 1
        c["client_order_id"] = ids
        c["price"] = 5_000_000
        c["qty"] = 100
        c["side"] = R.SIDE_BUY
        c["order_type"] = R.ORD_LIMIT
        c["tif"] = R.TIF_IOC
        return c, ids

    def acks(self, sink: dict[int, int]) -> int:
        """Read every exec event; note the time of each accept. Returns how many events were read."""
        R = self.R
        total = 0
        while n := self.exec.consume(self.out):
            total += n
            now = time.perf_counter_ns()
            ev = self.out[:n]
            for k, oid in zip(ev["kind"], ev["client_order_id"], strict=True):
                if k == R.ORDER_ACCEPTED:
                    sink[int(oid)] = now
                elif k == R.ORDER_REJECTED:
                    raise SystemExit(f"order {oid} rejected: see {self.tmp / 'connector.log'}")
        return total

    def settle(self, quiet_s: float = 0.3, cap_s: float = 10.0) -> None:
        """Let the previous phase's tail (expiry reports, journal lines) drain: no events for quiet_s."""
        got: dict[int, int] = {}
        last = time.monotonic()
        end = last + cap_s
        while time.monotonic() < end:
            if self.acks(got):
                last = time.monotonic()
            elif time.monotonic() - last > quiet_s:
                return
            time.sleep(0.01)

    def throughput(self, n: int) -> float:
        cmds, _ = self.commands(n)
        got: dict[int, int] = {}
        t0 = time.perf_counter_ns()
        sent = 0
        while sent < n:
            sent += self.cmd.publish_batch(cmds[sent:])
            self.acks(got)
        while len(got) < n:
            self.acks(got)
            time.sleep(0.0002)
        return n / ((max(got.values()) - t0) / 1e9)

    def latency(self, rate: float, seconds: float) -> Lat:
        n = int(rate * seconds)
        cmds, ids = self.commands(n)
        due: dict[int, int] = {}
        got: dict[int, int] = {}
        t0 = time.perf_counter_ns()
        step = int(1e9 / rate)
        for i in range(n):
            t = t0 + i * step
            while (left := t - time.perf_counter_ns()) > 0:  # poll, but leave the cores to the others
                self.acks(got)
                time.sleep(min(left / 1e9, 0.0005))
            due[ids[i]] = t
            assert self.cmd.publish_batch(cmds[i : i + 1]) == 1
            self.acks(got)
        deadline = time.monotonic() + 30
        while len(got) < n and time.monotonic() < deadline:
            self.acks(got)
            time.sleep(0.0002)
        lat = Lat()
        for oid, t in due.items():
            lat.add((got.get(oid, time.perf_counter_ns()) - t) / 1000)
        return lat

    def close(self) -> None:
        self.conn.terminate()
        try:
            self.conn.wait(20)
        except subprocess.TimeoutExpired:
            self.conn.kill()
        self.sim.kill()
        self.sim.wait(10)
        self.log.close()
        for r in (self.cmd, self.exec, self.md):
            r.close()
            r.unlink()
        Path(f"/dev/shm/{self.prefix}.table.bbo").unlink(missing_ok=True)
        for market in ("spot", "usdm"):  # the shared rate budget files of the bench key
            digest = hashlib.sha256(f"binance_{market}:{KEY}".encode()).hexdigest()[:16]
            Path(f"/dev/shm/oms.rl.{digest}").unlink(missing_ok=True)


def peer_params(i: int, tag: str) -> dict[str, Any]:
    return {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "IOC", "quantity": "0.001",
            "price": PRICE, "newClientOrderId": f"peer-{tag}-{i}"}  # fmt: skip


def peer_sync(url: str, n: int) -> float:
    from binance.client import Client

    c = Client(KEY, SECRET, ping=False)
    c.API_URL = url + "/api"
    t0 = time.perf_counter()
    for i in range(n):
        c.create_order(**peer_params(i, "s"))
    dt = time.perf_counter() - t0
    c.close_connection()
    return n / dt


async def peer_async(
    url: str, n: int, concurrency: int, rate: float | None, seconds: float
) -> tuple[float, Lat]:
    from binance import AsyncClient

    c = AsyncClient(KEY, SECRET)
    c.API_URL = url + "/api"
    lat = Lat()
    tag = uuid.uuid4().hex[:6]
    try:
        if rate is None:
            sem = asyncio.Semaphore(concurrency)

            async def one(i: int) -> None:
                async with sem:
                    await c.create_order(**peer_params(i, tag))

            t0 = time.perf_counter()
            await asyncio.gather(*(one(i) for i in range(n)))
            return n / (time.perf_counter() - t0), lat
        total = int(rate * seconds)
        t0 = time.perf_counter_ns()
        step = int(1e9 / rate)

        async def timed(i: int, due: int) -> None:
            await c.create_order(**peer_params(i, tag))
            lat.add((time.perf_counter_ns() - due) / 1000)

        tasks = []
        for i in range(total):
            due = t0 + i * step
            delay = (due - time.perf_counter_ns()) / 1e9
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(timed(i, due)))
        await asyncio.gather(*tasks)
        return 0.0, lat
    finally:
        await c.close_connection()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--rate", type=float, default=100.0 if CI else 200.0, help="offered orders/s (latency phase)"
    )
    p.add_argument("--seconds", type=float, default=2.0 if CI else 3.0)
    p.add_argument("--orders", type=int, default=200 if CI else 400, help="orders in the throughput phase")
    p.add_argument("--concurrency", type=int, default=16, help="AsyncClient requests in flight (throughput)")
    p.add_argument("--json", action="store_true")
    a = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-conn-") as d:
        rig = Rig(Path(d))
        try:
            rig.throughput(50)  # warm-up: connections, first-call costs
            rig.settle()
            conn_tput = rig.throughput(a.orders)
            rig.settle()
            conn_lat = rig.latency(a.rate, a.seconds)
            sync_tput = peer_sync(rig.url, a.orders)
            async_tput, _ = asyncio.run(peer_async(rig.url, a.orders, a.concurrency, None, 0))
            _, peer_lat = asyncio.run(peer_async(rig.url, 0, 0, a.rate, a.seconds))
            stats = json.loads((Path(d) / "stats.json").read_text())
        finally:
            rig.close()
    out = {
        "bench": "connector",
        "offered_rate": a.rate,
        "seconds": a.seconds,
        "orders": a.orders,
        "throughput_orders_per_s": {
            "connector_ring_to_ring": round(conn_tput, 1),
            "python_binance_sync_loop": round(sync_tput, 1),
            f"python_binance_async_c{a.concurrency}": round(async_tput, 1),
        },
        "ratio_connector_vs_sync_loop": round(conn_tput / sync_tput, 2),
        "ack_latency_us": {"connector_ring_to_ring": conn_lat.row(), "python_binance_async": peer_lat.row()},
        "connector_rest": {
            k: stats["rest"][k]
            for k in ("requests", "errors", "outcome_unknown", "resync_1021", "http_429", "throttled_waits")
        },
        "connector_rest_ack_us_inside": stats["ack_latency_us"],  # REST call incl. queueing, both phases
        "ci": CI,
    }
    if a.json:
        print(json.dumps(out))
        return 0
    print(f"connector bench: {a.orders} orders (throughput), {a.rate:.0f}/s x {a.seconds:.0f}s (latency); "
          "spot IOC orders against the Binance simulator on loopback")  # fmt: skip
    print(f"{'throughput':<34}{'orders/s':>10}")
    for k, v in out["throughput_orders_per_s"].items():
        print(f"  {k:<32}{v:>10.1f}")
    print(f"  ratio connector / sync loop      {out['ratio_connector_vs_sync_loop']:>10.2f}")
    print(f"{'ack latency (µs) @ ' + str(int(a.rate)) + '/s':<34}{'p50':>8}{'p99':>8}{'p99.9':>8}{'max':>8}")
    for k, r in out["ack_latency_us"].items():
        print(f"  {k:<32}{r['p50_us']:>8}{r['p99_us']:>8}{r['p999_us']:>8}{r['max_us']:>8}")
    inside = out["connector_rest_ack_us_inside"]
    print(
        f"  (inside the connector, REST call incl. its queue, both phases: "
        f"p50 {inside['p50']:.0f} µs, p99 {inside['p99']:.0f} µs)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
