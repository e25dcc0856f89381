"""CLI room (stack helper): wiring of the local Binance simulator into a stack started by `oms up`.

Touches `<root>/var/secrets/sim-keystore.json` and `<root>/var/run/sim-keystore.pass` (both 0600), the
simulator's admin endpoint on loopback (`POST /_sim/keys`) and `<root>/var/instruments.json` (the venues
room's shared instrument registry). Split out of oms/cli/stack.py to keep modules small.
"""

from __future__ import annotations

import json
import os
from typing import Any

from oms import log
from oms.cli.stack import StackPaths
from oms.errors import OmsError
from oms.testing import eventually

_log = log.get(__name__)


SIM_KEY_NAMES = ("binance_spot", "binance_futures")  # the names configs/exchanges/binance_*.toml give


def sim_credentials(paths: StackPaths) -> tuple[str, str]:
    """A fresh API key/secret for the local simulator, stored in a local keystore only the stack reads.

    The passphrase file and the keystore are 0600 under var/; the secret never reaches argv or a log.
    """
    import secrets as pysecrets
    import time as _time

    from oms.secrets.local import LocalKeyStore
    from oms.secrets.locked import LockedBuffer
    from oms.secrets.model import KeyMetadata

    pw_file = paths.run / "sim-keystore.pass"
    store_path = paths.var / "secrets" / "sim-keystore.json"
    store_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not pw_file.exists():
        fd = os.open(pw_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(pysecrets.token_urlsafe(32))
        store_path.unlink(missing_ok=True)  # a keystore under an unknown passphrase is useless
    key, secret = f"omslocal{pysecrets.token_hex(12)}", pysecrets.token_urlsafe(48)
    log.redact(secret)
    store = LocalKeyStore(store_path, LockedBuffer.from_bytes(pw_file.read_bytes().strip()))
    try:
        meta = KeyMetadata(
            permissions=("SPOT", "FUTURES"), label="oms up: local simulator", created_at=_time.time()
        )
        for name in SIM_KEY_NAMES:
            store.put(name, key, LockedBuffer.from_bytes(secret.encode()), meta)
    finally:
        store.close()
    return key, secret


def register_sim_key(plan: dict[str, Any], key: tuple[str, str], timeout: float) -> None:
    import urllib.request

    for sim in (p for p in plan["programs"] if p.kind == "sim"):
        base = f"http://127.0.0.1:{sim.env['OMS_SIM_PORT']}"

        def ping(base: str = base) -> bool:
            with urllib.request.urlopen(base + "/api/v3/ping", timeout=1) as r:
                return r.status == 200

        eventually(ping, timeout=timeout, interval=0.05, max_interval=0.5, message=f"{sim.name} {base}")
        body = json.dumps({"key": key[0], "secret": key[1], "permissions": ["SPOT", "FUTURES"]}).encode()
        req = urllib.request.Request(
            base + "/_sim/keys", data=body, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(req, timeout=5) as r:
            if r.status != 200:
                raise OmsError(f"{sim.name} refused the API key: HTTP {r.status}")


def fill_instruments(paths: StackPaths, plan: dict[str, Any]) -> None:
    """Load the simulator's exchange info into the shared instrument registry (var/instruments.json),
    which the connector, engine and gateway read: ids and tick/lot sizes then match the venue."""
    import asyncio

    from oms.venues.instruments import InstrumentRegistry
    from oms.venues.registry import default_registry

    reg = InstrumentRegistry.open(paths.var / "instruments.json")

    async def fill(base: str) -> int:
        n = 0
        for market, ws in (("spot", f"ws://{base}/ws"), ("usdm", f"ws://{base}/fstream/ws")):
            ex = default_registry().create("binance", market, rest_url=f"http://{base}", stream_url=ws)
            try:
                n += len(await reg.refresh(ex))
            finally:
                await ex.close()
        return n

    for sim in (p for p in plan["programs"] if p.kind == "sim"):
        n = asyncio.run(fill(f"127.0.0.1:{sim.env['OMS_SIM_PORT']}"))
        _log.info(
            "instrument registry %s: %d instruments from %s", paths.var / "instruments.json", n, sim.name
        )
