"""Transport: TLS 1.3 only (openssl s_client and Python ssl), plaintext refused at the front and at the
backend, ALPN h2, and optional mutual TLS."""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
from collections.abc import Iterator

import grpc
import pytest

from oms.api import certs
from oms.api.gen.oms.v1 import gateway_pb2 as gw
from oms.client import channel_options, credentials
from tests.integration.gateway.conftest import Stack, close_stack, make_stack
from tests.integration.gateway.helpers import md, status_of, stubs

OPENSSL = shutil.which("openssl")


def s_client(port: int, version: str, ca: str) -> subprocess.CompletedProcess[str]:
    assert OPENSSL, "openssl binary is required (Debian package openssl)"
    return subprocess.run(
        [
            OPENSSL,
            "s_client",
            "-connect",
            f"127.0.0.1:{port}",
            version,
            "-alpn",
            "h2",
            "-CAfile",
            ca,
            "-servername",
            "localhost",
        ],
        input="",
        capture_output=True,
        encoding="utf-8",
        errors="replace",
        timeout=20,
    )


def test_openssl_tls12_refused_tls13_accepted(stack: Stack) -> None:
    old = s_client(stack.gw.port, "-tls1_2", str(stack.certs.ca_cert))
    assert old.returncode != 0
    assert "alert protocol version" in (old.stdout + old.stderr) or "Cipher is (NONE)" in old.stdout
    new = s_client(stack.gw.port, "-tls1_3", str(stack.certs.ca_cert))
    assert new.returncode == 0, new.stderr
    assert "Protocol  : TLSv1.3" in new.stdout or "TLSv1.3" in new.stdout
    assert "ALPN protocol: h2" in new.stdout
    assert "Verify return code: 0 (ok)" in new.stdout


def test_python_tls12_client_refused(stack: Stack) -> None:
    ctx = ssl.create_default_context(cafile=str(stack.certs.ca_cert))
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_alpn_protocols(["h2"])
    with (
        socket.create_connection(("127.0.0.1", stack.gw.port), timeout=5) as raw,
        pytest.raises(ssl.SSLError) as ei,
    ):
        ctx.wrap_socket(raw, server_hostname="localhost")
    # the front aborts the handshake (asyncio closes without flushing the alert): no TLS 1.2 session
    assert isinstance(ei.value, ssl.SSLError)


def test_plaintext_refused_at_front(stack: Stack) -> None:
    ch = grpc.insecure_channel(stack.target)
    try:
        code, _, _ = status_of(
            gw_stub(ch).ListOrders, gw.ListOrdersRequest(account=1), md(stack.tokens["viewer"]), timeout=3
        )
        assert code == grpc.StatusCode.UNAVAILABLE
    finally:
        ch.close()


def test_plaintext_refused_at_backend(stack: Stack) -> None:
    """A local process that finds the loopback backend port still cannot skip TLS."""
    ch = grpc.insecure_channel(f"127.0.0.1:{stack.gw.gw.backend_port}")
    try:
        code, msg, _ = status_of(
            gw_stub(ch).ListOrders, gw.ListOrdersRequest(account=1), md(stack.tokens["viewer"])
        )
        assert code == grpc.StatusCode.UNAUTHENTICATED and "plaintext connection refused" in msg
    finally:
        ch.close()


def test_wrong_ca_refused(stack: Stack, tmp_path) -> None:
    other = certs.init(tmp_path / "other")
    ch = grpc.secure_channel(stack.target, credentials(other.ca_cert), options=channel_options())
    try:
        code, _, _ = status_of(
            gw_stub(ch).ListOrders, gw.ListOrdersRequest(account=1), md(stack.tokens["viewer"]), timeout=3
        )
        assert code == grpc.StatusCode.UNAVAILABLE
    finally:
        ch.close()


def gw_stub(ch: grpc.Channel):  # type: ignore[no-untyped-def]
    return stubs(ch)[0]


@pytest.fixture(scope="module")
def mtls_stack(tmp_path_factory: pytest.TempPathFactory, dev_certs: certs.CertPaths) -> Iterator[Stack]:
    st = make_stack(
        tmp_path_factory.mktemp("mtls"),
        dev_certs,
        engine=False,
        client_ca=str(dev_certs.ca_cert),
        require_client_cert=True,
    )
    yield st
    close_stack(st)


def test_mtls_requires_client_certificate(mtls_stack: Stack) -> None:
    st = mtls_stack
    code, _, _ = status_of(
        gw_stub(st.channel()).ListOrders, gw.ListOrdersRequest(account=1), md(st.tokens["viewer"]), timeout=3
    )
    assert code == grpc.StatusCode.UNAVAILABLE  # handshake fails without a client certificate
    ch = st.channel(st.certs.client_cert(), st.certs.client_key())
    code, msg, _resp = status_of(
        gw_stub(ch).ListOrders, gw.ListOrdersRequest(account=1), md(st.tokens["viewer"])
    )
    assert code == grpc.StatusCode.OK, msg
    peers = list(st.gw.gw.front.peers.values())
    assert any("commonName=client" in p.cert_subject for p in peers)
