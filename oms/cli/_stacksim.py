"""CLI room (stack helper): the venues of a stack started by `oms up` — their local simulators (sim mode)
or their live URLs and keys (live mode), and the instrument registry filled from them.

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


def sim_key_names(cfg: Any | None, venues: list[str]) -> list[str]:
    """The key names the served venues' exchange files use (`[credentials] key`)."""
    if cfg is None:
        return [f"{v}_{m}" for v in venues for m in _sim_markets(v)]
    return sorted({x.credentials.key or x.name for x in cfg.exchanges.values() if x.venue in venues})


def _sim_markets(venue: str) -> tuple[str, ...]:
    from oms.venues.registry import default_registry

    return default_registry().get(venue).markets


def sim_credentials(paths: StackPaths, names: list[str] | None = None) -> tuple[str, str]:
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
        for name in names or []:
            store.put(name, key, LockedBuffer.from_bytes(secret.encode()), meta)
    finally:
        store.close()
    return key, secret


def register_sim_key(plan: dict[str, Any], key: tuple[str, str], timeout: float) -> None:
    import urllib.request

    from oms.venues.registry import default_registry

    for sim in (p for p in plan["programs"] if p.kind == "sim"):
        adapter = default_registry().get(sim.env["OMS_SIM_VENUE"])
        spec = adapter.simulator
        assert spec is not None  # only venues with a simulator get a sim program
        path = next(iter(adapter.ping_paths.values()), "/")
        base = f"http://127.0.0.1:{sim.env['OMS_SIM_PORT']}"

        def ping(base: str = base, path: str = path) -> bool:
            with urllib.request.urlopen(base + path, timeout=1) as r:
                return r.status == 200

        eventually(ping, timeout=timeout, interval=0.05, max_interval=0.5, message=f"{sim.name} {base}")
        body = json.dumps(
            {"key": key[0], "secret": key[1], "permissions": list(spec.key_permissions)}
        ).encode()
        req = urllib.request.Request(
            base + "/_sim/keys", data=body, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(req, timeout=5) as r:
            if r.status != 200:
                raise OmsError(f"{sim.name} refused the API key: HTTP {r.status}")


def fill_instruments(paths: StackPaths, plan: dict[str, Any], cfg: Any | None = None) -> None:
    """Fill the shared instrument registry (var/instruments.json) from each served venue's own
    instrument endpoint — its simulator in sim mode, the configured URL in live mode — so the connector,
    engine and gateway agree on ids and tick/lot sizes with the venue."""
    import asyncio

    from oms.conn.sync import enabled_endpoints, sync
    from oms.venues.registry import default_registry

    reg = default_registry()
    sims = [p for p in plan["programs"] if p.kind == "sim"]
    if sims:
        eps = {}
        for p in sims:
            venue = p.env["OMS_SIM_VENUE"]
            urls = reg.get(venue).simulator.urls(f"127.0.0.1:{p.env['OMS_SIM_PORT']}")  # type: ignore[union-attr]
            eps[venue] = {m: u["rest_url"] for m, u in urls.items()}
    elif cfg is not None:
        eps = enabled_endpoints(cfg, [v for v in plan["venues"] if v in reg.names()])
    else:
        return
    counts = asyncio.run(sync(paths.var / "instruments.json", eps))
    for venue, n in counts.items():
        _log.info("instrument registry %s: %d instruments from %s", paths.var / "instruments.json", n, venue)


def vault_location(st: Any, name: str) -> str:
    """Where the `[secrets]` store keeps key `name`, as a person would look for it."""
    if st.backend == "vault":
        return f"Vault {st.vault_url} path {st.vault_mount}/{st.vault_prefix}/{name}"
    return f"keystore {st.keystore_path} entry {name!r}"


def check_live_keys(cfg: Any, venues: list[str]) -> None:
    """Live mode: every enabled exchange file of a served venue names a key that the store holds;
    otherwise refuse to start, naming where each missing key was looked for."""
    from oms.secrets.store import open_store

    st = cfg.section("secrets")
    needed = sorted(
        {
            x.credentials.key
            for x in cfg.exchanges.values()
            if x.enabled and x.venue in venues and x.credentials.key
        }
    )
    if not needed:
        return
    fix = 'add it with `oms keys add NAME` (or set [venues] mode = "sim")'
    try:
        store = open_store(st, base_dir=cfg.root)
        try:
            have = set(store.names())
        finally:
            store.close()
    except OmsError as e:
        raise OmsError(
            f"live mode: the [secrets] store cannot be read ({e}); needed keys: "
            + "; ".join(vault_location(st, n) for n in needed)
        ) from None
    missing = [n for n in needed if n not in have]
    if missing:
        raise OmsError(
            "live mode: missing API key " + "; ".join(vault_location(st, n) for n in missing) + f" — {fix}"
        )
