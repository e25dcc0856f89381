"""Gateway tests: the engine room's REAL process (python -m oms.procs.engine) on a test's shm prefix.

Touches a temporary directory (oms.toml, instruments.toml) and the engine's rings of the prefix. The
engine gets the gateway's demo instruments (same ids as oms.api.instruments.demo_registry) and a [risk]
section with the limits that need market data off, so orders are checked and routed by the real engine
without a market-data program. No connector runs: an accepted order is OrderSubmitted (PendingNew) in the
connector's ring. Up to the ring capacity (65,536) nothing needs draining; benchmarks drain (bench/).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from oms.api.instruments import demo_registry
from oms.shm import names, segment

ROOT = Path(__file__).resolve().parents[3]

ENGINE_CONFIG = """
[risk]
accounts = [1, 2, 3]
max_order_qty = 0                 # 0 = off: these tests are about the gateway, not the limits
max_order_notional = "0"
max_position_qty = 0
max_position_notional = "0"
price_deviation_bps = 0           # off: no market-data program feeds a reference price
order_rate_per_account = 0
order_rate_per_venue = 0
daily_loss_reduce = "0"
daily_loss_halt = "0"
event_log = ""
order_capacity = {orders}
"""


def instruments_toml() -> str:
    rows = []
    for i in demo_registry()._by_id.values():  # the gateway's own table, in id order
        if i.venue != "binance":
            continue
        rows.append(
            f'[[instrument]]\nid = {i.id}\nvenue = "{i.venue}"\nmarket = "{i.market}"\n'
            f'symbol = "{i.symbol}"\nbase = "{i.base}"\nquote = "{i.quote}"\n'
            f'tick_size = "{i.tick_size}"\nlot_size = "{i.lot_size}"\n'
        )
    return "\n".join(rows)


def start_real_engine(prefix: str, tmp: Path, *, orders: int = 1 << 16) -> subprocess.Popen[bytes]:
    """Start the engine on `prefix` and return once it printed ENGINE READY (rings attached)."""
    tmp.mkdir(parents=True, exist_ok=True)
    (tmp / "oms.toml").write_text(ENGINE_CONFIG.format(orders=orders))
    (tmp / "instruments.toml").write_text(instruments_toml())
    err = tmp / "engine.err"
    with open(err, "wb") as errf:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "oms.procs.engine",
                "--config",
                str(tmp / "oms.toml"),
                "--prefix",
                prefix,
                "--instruments",
                str(tmp / "instruments.toml"),
                "--event-log",
                "",
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=errf,
        )
    assert proc.stdout is not None
    line = b""
    for _ in range(50):
        line = proc.stdout.readline()
        if not line or b"READY" in line:
            break
    assert b"ENGINE READY" in line, f"engine did not start: {line!r} {err.read_text()[-2000:]}"
    return proc


def unlink_engine_rings(prefix: str, venues: tuple[str, ...] = ("binance",)) -> None:
    for v in venues:
        segment.unlink(names.engine_commands_to_venue(v, prefix))
        segment.unlink(names.venue_exec_events(v, prefix))
    for n in (
        names.bridge_commands(prefix),
        names.engine_events_to_bridge(prefix),
        names.market_data_to_engine(prefix),
    ):
        segment.unlink(n)
