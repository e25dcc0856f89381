"""`oms sim binance` as a user runs it: starts, serves, stops on SIGTERM; bad input is one clear line."""

from __future__ import annotations

import signal
import subprocess
import sys

import requests

from oms.services.ports import free_port
from oms.testing import eventually

CMD = [
    sys.executable,
    "-c",
    "import sys; from oms.cli import main; sys.exit(main(sys.argv[1:]))",
    "sim",
    "binance",
]


def test_cli_serves_and_stops() -> None:
    port = free_port()
    p = subprocess.Popen(
        [*CMD, "--port", str(port), "--key", "cli:clisecret", "--seed", "3"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        r = eventually(lambda: requests.get(f"http://127.0.0.1:{port}/api/v3/ping", timeout=1), 15)
        assert r.status_code == 200 and r.json() == {}
        book = requests.get(f"http://127.0.0.1:{port}/fapi/v1/depth?symbol=BTCUSDT&limit=5", timeout=2).json()
        assert len(book["bids"]) == 5
    finally:
        p.send_signal(signal.SIGTERM)
        out, _ = p.communicate(timeout=15)
    assert p.returncode == 0
    assert f"http://127.0.0.1:{port}" in out


def test_cli_bad_input_is_one_clear_line() -> None:
    r = subprocess.run([*CMD, "--key", "nocolon"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 2
    assert r.stderr.strip().splitlines()[-1] == (
        "oms: error: --key 'nocolon' must look like KEY:SECRET (e.g. --key demo:demosecret)"
    )
    r = subprocess.run([*CMD, "--port", "70000"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 2 and "is not a TCP port" in r.stderr
