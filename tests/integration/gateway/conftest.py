"""Gateway integration fixtures: a real gateway (TLS 1.3 front + grpc.aio) on a free loopback port, a
real token file with one token per role, and the engine room's REAL process on real shm rings
(engine_proc.py: no connector behind it, so an accepted order is OrderSubmitted).

`make_stack(engine="fake")` / the `fake_stack` fixture start the test-only FAKE engine
(fake_engine.py) instead: only for tests of gateway paths that need an engine answer the real engine
gives only with a venue connector and simulator behind it (OrderAccepted, fills, cancels at once).
"""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import pytest

from oms.api import certs
from oms.api.instruments import demo_registry
from oms.api.server import Gateway, GatewayThread
from oms.api.settings import Settings
from oms.api.tokens import TokenStore
from oms.client import channel_options, credentials
from oms.shm import names, segment
from tests.integration.gateway.engine_proc import start_real_engine, unlink_engine_rings

ROOT = Path(__file__).resolve().parents[3]


@dataclass
class Stack:
    gw: GatewayThread
    certs: certs.CertPaths
    tokens: dict[str, str]  # name -> token
    totp: dict[str, str]  # name -> TOTP secret
    ids: dict[str, str]  # name -> token id
    prefix: str
    settings: Settings
    engine: subprocess.Popen[bytes] | None = None
    real_engine: bool = False
    channels: list[grpc.Channel] = field(default_factory=list)

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.gw.port}"

    def channel(self, cert: Path | None = None, key: Path | None = None) -> grpc.Channel:
        ch = grpc.secure_channel(
            self.target, credentials(self.certs.ca_cert, cert, key), options=channel_options()
        )
        self.channels.append(ch)
        return ch


@pytest.fixture(scope="session")
def dev_certs(tmp_path_factory: pytest.TempPathFactory) -> certs.CertPaths:
    return certs.init(tmp_path_factory.mktemp("certs"))


def start_engine(prefix: str) -> subprocess.Popen[bytes]:
    """The test-only FAKE engine (see fake_engine.py for when a test may use it)."""
    proc = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("fake_engine.py")), "--prefix", prefix],
        cwd=ROOT,
        stdout=subprocess.PIPE,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()  # blocks until the engine has attached its rings
    assert b"fake engine ready" in line, line
    return proc


def stop_engine(proc: subprocess.Popen[bytes] | None) -> None:
    if proc is not None and proc.poll() is None:
        proc.terminate()
        proc.wait(10)


def make_stack(
    tmp: Path,
    dev_certs: certs.CertPaths,
    *,
    engine: bool | str = True,
    registry: Any = None,
    bbo: Any = None,
    prefix: str | None = None,
    **overrides: object,
) -> Stack:
    prefix = prefix or "g" + uuid.uuid4().hex[:10]
    store = TokenStore(tmp / "tokens.json")
    toks, totp, ids = {}, {}, {}
    specs = {
        "viewer": dict(roles=["viewer"], accounts=[1]),
        "trader": dict(roles=["trader"], accounts=[1]),
        "trader2": dict(roles=["trader"], accounts=[2]),
        "risk": dict(roles=["risk"], accounts=[1]),
        "admin": dict(roles=["admin"], accounts=[1, 2, 3]),
        "remote": dict(roles=["trader"], accounts=[1], cidrs=["10.0.0.0/8"]),
        "slow": dict(roles=["trader"], accounts=[1], rate=1.0, burst=3),
        "fuzz": dict(roles=["admin"], accounts=[1, 2, 3], rate=1e9, burst=10**9),
    }
    for name, spec in specs.items():
        rec, tok = store.add(
            name,
            spec["roles"],
            spec["accounts"],
            spec.get("cidrs", ["127.0.0.1/32", "::1/128"]),
            rate=spec.get("rate", 1e6),
            burst=int(spec.get("burst", 10**6)),
        )
        toks[name], ids[name] = tok, rec.id
        if rec.totp_secret:
            totp[name] = rec.totp_secret
    settings = Settings(
        port=0,
        cert=str(dev_certs.server_cert),
        key=str(dev_certs.server_key),
        tokens_file=str(tmp / "tokens.json"),
        audit_file=str(tmp / "audit.jsonl"),
        **({"ack_timeout_s": 2.0} | overrides),
    )  # type: ignore[arg-type]
    gw = GatewayThread(Gateway(settings, registry or demo_registry(), prefix=prefix, bbo=bbo)).start()
    st = Stack(gw, dev_certs, toks, totp, ids, prefix, settings)
    if engine == "fake":
        st.engine = start_engine(prefix)
    elif engine:
        st.engine = start_real_engine(prefix, tmp / "engine")
        st.real_engine = True
    return st


def close_stack(st: Stack) -> None:
    for ch in st.channels:
        ch.close()
    st.gw.stop()
    stop_engine(st.engine)
    for name in (names.gateway_commands(st.prefix), names.engine_events_to_gateway(st.prefix)):
        segment.unlink(name)
    if st.real_engine:
        unlink_engine_rings(st.prefix)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, dev_certs: certs.CertPaths) -> Iterator[Stack]:
    st = make_stack(tmp_path_factory.mktemp("gw"), dev_certs)
    yield st
    close_stack(st)


@pytest.fixture(scope="module")
def fake_stack(tmp_path_factory: pytest.TempPathFactory, dev_certs: certs.CertPaths) -> Iterator[Stack]:
    """The gateway with the test-only FAKE engine (immediate OrderAccepted/fills/cancels, no venue)."""
    st = make_stack(tmp_path_factory.mktemp("gwfake"), dev_certs, engine="fake")
    yield st
    close_stack(st)
