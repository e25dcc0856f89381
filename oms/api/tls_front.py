"""Gateway room (oms/api): the TLS 1.3-only front door, relaying to the grpc.aio server on loopback h2c.

Touches the public listening socket and one loopback connection per client to the backend port.

Why a front: grpcio 1.85's Python API cannot set a minimum TLS version (no argument, option or env var
for it; core accepts TLS 1.2). Python's `ssl` can: this front listens with `minimum_version = TLSv1_3`
and ALPN "h2" (gRPC clients insist on it), so a TLS 1.2 ClientHello gets a protocol_version alert and
plaintext never reaches gRPC. Each accepted connection is relayed byte for byte (HTTP/2 untouched) to
the backend on 127.0.0.1; the front records which backend-side source port belongs to which real client
(address and, with mTLS, certificate subject) so the gateway's IP allowlist sees the real peer, and a
connection to the backend that the front did not open is refused by the interceptor.

The relay uses asyncio Protocols (data_received -> write on the twin transport, reading paused while
the twin's write buffer is above its high-water mark), not streams, to keep per-chunk cost low.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from dataclasses import dataclass
from pathlib import Path

from oms import log
from oms.api.auth import PeerInfo, parse_peer

_log = log.get(__name__)


@dataclass(slots=True)
class TlsFiles:
    cert: Path
    key: Path
    client_ca: Path | None = None  # set: client certificates are requested and verified (mTLS)
    require_client_cert: bool = False


def server_context(files: TlsFiles) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.maximum_version = ssl.TLSVersion.TLSv1_3
    ctx.load_cert_chain(str(files.cert), str(files.key))
    ctx.set_alpn_protocols(["h2"])
    if files.client_ca is not None:
        ctx.load_verify_locations(cafile=str(files.client_ca))
        ctx.verify_mode = ssl.CERT_REQUIRED if files.require_client_cert else ssl.CERT_OPTIONAL
    return ctx


class _Half(asyncio.Protocol):
    """One side of a relay; `twin` is the other side's transport."""

    def __init__(self, front: TlsFront) -> None:
        self.front = front
        self.transport: asyncio.Transport | None = None
        self.twin: _Half | None = None
        self.pending: list[bytes] = []
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.front._halves.add(self)

    def data_received(self, data: bytes) -> None:
        twin = self.twin
        if twin is None or twin.transport is None:
            self.pending.append(data)
            return
        twin.transport.write(data)

    def eof_received(self) -> bool | None:
        twin = self.twin
        if twin is not None and twin.transport is not None and twin.transport.can_write_eof():
            twin.transport.write_eof()  # half-close (TLS transports cannot: they close on EOF)
            return not isinstance(self, _Client)
        self._close_twin()
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._close_twin()
        self.front._lost(self)

    def _close_twin(self) -> None:
        if self.twin is not None and self.twin.transport is not None and not self.twin.closed:
            self.twin.transport.close()

    def pause_writing(self) -> None:  # our buffer is full: stop reading the twin
        if self.twin is not None and self.twin.transport is not None:
            self.twin.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.twin is not None and self.twin.transport is not None and not self.twin.closed:
            self.twin.transport.resume_reading()


class _Client(_Half):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        sslobj = transport.get_extra_info("ssl_object")
        if sslobj is None or sslobj.selected_alpn_protocol() != "h2":
            _log.info("refused TLS client without ALPN h2 from %s", transport.get_extra_info("peername"))
            transport.close()
            return
        transport.pause_reading()
        asyncio.get_running_loop().create_task(self.front._connect_backend(self))


class TlsFront:
    def __init__(self, host: str, port: int, backend: tuple[str, int], files: TlsFiles) -> None:
        self.host, self.port = host, port
        self.backend = backend
        self.files = files
        self.peers: dict[str, PeerInfo] = {}  # "ip:port" of our backend-side socket -> real client
        self._server: asyncio.base_events.Server | None = None
        self._keys: dict[int, str] = {}
        self._halves: set[_Half] = set()
        self.connections = 0

    async def start(self) -> None:
        ctx = server_context(self.files)
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: _Client(self),
            self.host,
            self.port,
            ssl=ctx,
            ssl_handshake_timeout=10.0,
            reuse_address=True,
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            for half in list(self._halves):
                if half.transport is not None:
                    half.transport.close()
            await self._server.wait_closed()
            self._server = None

    def drop(self, peer: PeerInfo) -> bool:
        """Close the client connection of `peer` at once (unsent bytes discarded): how the gateway cuts
        off a client that stopped reading. The backend side closes with it, so gRPC ends its calls."""
        for half in list(self._halves):
            if isinstance(half, _Client) and half.transport is not None and not half.closed:
                name = half.transport.get_extra_info("peername") or ("?", 0)
                if str(name[0]) == peer.ip and int(name[1]) == peer.port:
                    half.transport.abort()
                    return True
        return False

    def resolve(self, raw_peer: str) -> PeerInfo | None:
        """The real client behind a backend peer string, or None if the front did not open it."""
        p = parse_peer(raw_peer)
        return None if p is None else self.peers.get(f"{p.ip}:{p.port}")

    async def _connect_backend(self, client: _Client) -> None:
        loop = asyncio.get_running_loop()
        assert client.transport is not None
        peer = client.transport.get_extra_info("peername") or ("?", 0)
        cert = client.transport.get_extra_info("peercert") or {}
        subject = ",".join(f"{k}={v}" for rdn in cert.get("subject", ()) for k, v in rdn)
        try:
            _, backend = await loop.create_connection(lambda: _Half(self), *self.backend)
        except OSError as e:
            _log.warning("gateway backend %s:%s unreachable: %s", *self.backend, e)
            client.transport.close()
            return
        assert backend.transport is not None
        sock = backend.transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        local = backend.transport.get_extra_info("sockname")
        key = f"{local[0]}:{local[1]}"
        self.peers[key] = PeerInfo(str(peer[0]), int(peer[1]), subject)
        self._keys[id(backend)] = key
        self.connections += 1
        client.twin, backend.twin = backend, client
        if client.closed:
            backend.transport.close()
            return
        for chunk in client.pending:
            backend.transport.write(chunk)
        for chunk in backend.pending:
            client.transport.write(chunk)
        client.pending.clear()
        backend.pending.clear()
        client.transport.resume_reading()

    def _lost(self, half: _Half) -> None:
        self._halves.discard(half)
        key = self._keys.pop(id(half), None)
        if key is not None:
            self.peers.pop(key, None)
