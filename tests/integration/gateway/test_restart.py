"""A gateway process that dies and is started again re-attaches the rings its previous run created
(their creator is gone) and serves orders to the engine that kept running."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid

from oms.api.settings import Settings
from oms.api.tokens import TokenStore
from oms.client import Client
from oms.shm import names, segment
from tests.integration.gateway.conftest import ROOT, start_engine, stop_engine


def _gateway(settings: dict, prefix: str) -> tuple[subprocess.Popen[bytes], int]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "oms.api.server", "--settings", json.dumps(settings), "--prefix", prefix],
        cwd=ROOT,
        stdout=subprocess.PIPE,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline().decode()
    assert "gateway ready" in line, line
    return proc, int(line.rsplit("=", 1)[1])


def test_gateway_restart_reattaches_rings(tmp_path, dev_certs) -> None:  # type: ignore[no-untyped-def]
    prefix = "r" + uuid.uuid4().hex[:10]
    _, token = TokenStore(tmp_path / "tokens.json").add("t", ["trader"], [1])
    settings = {
        "port": 0,
        "cert": str(dev_certs.server_cert),
        "key": str(dev_certs.server_key),
        "tokens_file": str(tmp_path / "tokens.json"),
        "audit_file": str(tmp_path / "audit.jsonl"),
    }
    Settings(**settings)  # the same keys the gateway validates
    first, port = _gateway(settings, prefix)  # creates both rings
    engine = start_engine(prefix)
    second = None
    try:
        with Client(f"127.0.0.1:{port}", token=token, ca=dev_certs.ca_cert) as c:
            assert (
                c.submit(
                    account=1, venue="binance", symbol="BTC/USDT", side="buy", quantity="0.001", price="50000"
                ).kind
                == 21
            )
        first.kill()
        first.wait(10)
        second, port = _gateway(settings, prefix)
        with Client(f"127.0.0.1:{port}", token=token, ca=dev_certs.ca_cert) as c:
            ack = c.submit(
                account=1, venue="binance", symbol="BTC/USDT", side="sell", quantity="0.001", price="50001"
            )
            assert ack.kind == 21 and ack.command_seq
    finally:
        for p in (first, second):
            if p is not None and p.poll() is None:
                p.terminate()
                p.wait(10)
        stop_engine(engine)
        for n in (names.gateway_commands(prefix), names.engine_events_to_gateway(prefix)):
            segment.unlink(n)
