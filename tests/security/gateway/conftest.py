"""Security (gateway room) fixtures: the real gateway (TLS 1.3, tokens, TOTP, audit file) in front of the
engine room's real process (`python -m oms.procs.engine`) on real shm rings, with the venues room's
InstrumentRegistry and a real BBO table giving the engine its reference price. Accounts 1, 2 and 3 are
enabled in the engine. The test plays the venue connector when it needs venue events: it writes
EVENT records to the engine's exec ring `conn.binance.exec`, as the connector program does.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from oms.api import certs
from oms.shm import names, segment
from oms.shm import records as r
from oms.shm.ring import open_ring
from oms.shm.table import BboTable
from oms.venues.instruments import Instrument, InstrumentRegistry
from tests.integration.gateway.conftest import ROOT, Stack, close_stack, make_stack

PX = 5_000_000  # 50000.00 in 0.01 ticks
INSTRUMENT_TOML = """
[[instrument]]
id = {id}
venue = "binance"
market = "spot"
symbol = "BTCUSDT"
base = "BTC"
quote = "USDT"
tick_size = "0.01"
lot_size = "0.00001"
min_notional = "5"
"""


@dataclass
class Real:
    st: Stack
    table: BboTable
    inst: int
    tmp: Path

    def venue_event(self, kind: int, account: int, coid: int, **fields: int) -> None:
        """Write one venue EVENT for (account, coid) to the engine's exec ring, as a connector would."""
        ring = open_ring(names.venue_exec_events("binance", self.st.prefix), r.EVENT, 1 << 12, producer=True)
        try:
            e = np.zeros(1, r.EVENT)
            e[0]["kind"], e[0]["account"], e[0]["client_order_id"] = kind, account, coid
            e[0]["instrument"], e[0]["venue"], e[0]["market"] = self.inst, 1, 1
            e[0]["ts_ns"] = time.time_ns()
            for k, v in fields.items():
                e[0][k] = v
            assert ring.publish(e[0])
        finally:
            ring.close()


@pytest.fixture(scope="session")
def sec_certs(tmp_path_factory: pytest.TempPathFactory) -> certs.CertPaths:
    return certs.init(tmp_path_factory.mktemp("seccerts"))


def security_config() -> str:
    """The shipped configs/oms.toml with accounts 1-3 enabled and the engine's order-rate limits off
    (these tests send orders faster than the shipped 10/s per venue); every other limit as shipped."""
    text = (ROOT / "configs" / "oms.toml").read_text()
    if "\n[risk]\n" not in text:
        text += "\n[risk]\n"
    text = re.sub(r"(?m)^accounts = \[[^\]]*\]", "", text)
    text = text.replace("\n[risk]\n", "\n[risk]\naccounts = [1, 2, 3]\n", 1)
    return re.sub(r"(?m)^(order_rate(?:_per_account|_per_venue)?)\s*=\s*\d+", r"\1 = 0", text)


def start_real(tmp: Path, dev_certs: certs.CertPaths, **overrides: Any) -> Real:
    reg = InstrumentRegistry(tmp / "instruments.json")
    (inst,) = reg.load(
        [
            Instrument(
                0,
                "binance",
                "spot",
                "BTCUSDT",
                "BTC/USDT",
                "BTC",
                "USDT",
                "",
                Decimal("0.01"),
                Decimal("0.00001"),
                min_notional=Decimal("5"),
                min_qty=Decimal("0.0001"),
            )
        ]
    )
    (tmp / "instruments.toml").write_text(INSTRUMENT_TOML.format(id=inst.id))
    (tmp / "oms.toml").write_text(security_config())
    prefix = "s" + uuid.uuid4().hex[:10]
    table = BboTable.create(names.bbo_table(prefix), 64)
    table.write(inst.id, PX, 100_000, PX + 100, 200_000, 0, time.time_ns())  # 50000.00 / 50001.00
    st = make_stack(tmp, dev_certs, engine=False, registry=reg, bbo=table, prefix=prefix, **overrides)
    eng = subprocess.Popen(
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
        stderr=subprocess.DEVNULL,
    )
    assert eng.stdout is not None
    line = b""
    for _ in range(50):
        line = eng.stdout.readline()
        if not line or b"READY" in line:
            break
    assert b"READY" in line, f"engine did not start: {line!r}"
    st.engine = eng
    return Real(st, table, int(inst.id), tmp)


def stop_real(real: Real) -> None:
    prefix = real.st.prefix
    close_stack(real.st)
    real.table.close()
    segment.unlink(names.bbo_table(prefix))
    segment.unlink(names.engine_commands_to_venue("binance", prefix))
    segment.unlink(names.venue_exec_events("binance", prefix))
    for n in (
        names.bridge_commands(prefix),
        names.engine_events_to_bridge(prefix),
        names.market_data_to_engine(prefix),
    ):
        segment.unlink(n)


# One stack for every security module (an engine start costs seconds on a loaded machine). Its settings
# are the union of what the modules need: TOTP codes reusable within their 30 s step (many admin calls),
# 3 wrong codes lock a token for 1 s (doubling), small OrderStream bounds. Tests that lock or throttle
# use tokens of their own, so they do not disturb the fixture's tokens.
TOTP_MAX_FAILURES = 3
STREAM_MAX_PENDING = 64
STREAM_MAX_BUFFERED = 512


@pytest.fixture(scope="session")
def real(tmp_path_factory: pytest.TempPathFactory, sec_certs: certs.CertPaths) -> Iterator[Real]:
    rl = start_real(
        tmp_path_factory.mktemp("secgw"),
        sec_certs,
        totp_single_use=False,
        totp_max_failures=TOTP_MAX_FAILURES,
        totp_lock_s=1.0,
        stream_max_pending=STREAM_MAX_PENDING,
        stream_max_buffered=STREAM_MAX_BUFFERED,
    )
    yield rl
    stop_real(rl)
