"""Gateway room (oms/api): assembles the gateway — grpc.aio server, interceptor, services, TLS front.

Touches the engine rings (via EngineLink), the token file, the audit file and two sockets: the public
TLS 1.3 port (TlsFront) and the backend h2c port on 127.0.0.1 (ephemeral; connections to it that the
front did not open are refused). Registers oms.v1.Gateway, oms.v1.Admin, grpc.health.v1.Health and
server reflection. `oms/procs/gateway.py` runs this; tests and benchmarks start it in-process.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1._async import HealthServicer
from grpc_reflection.v1alpha import reflection

from oms import log
from oms.api.admin import AdminServicer
from oms.api.audit_sink import AuditSink, open_sink
from oms.api.auth import Authenticator, AuthInterceptor
from oms.api.engine_link import EngineLink
from oms.api.gen.oms.v1 import gateway_pb2, gateway_pb2_grpc
from oms.api.servicer import GatewayServicer
from oms.api.settings import Settings
from oms.api.tls_front import TlsFiles, TlsFront
from oms.api.tokens import TokenStore
from oms.api.validation import Resolver
from oms.errors import ConfigError

_log = log.get(__name__)
SERVICES = ("oms.v1.Gateway", "oms.v1.Admin")


@dataclass
class Gateway:
    settings: Settings
    instruments: Any  # the venues room's InstrumentRegistry (resolve, by_id)
    prefix: str = "oms"
    bbo: Any = None  # BboTable or None
    reload_instruments: Any = None  # () -> registry: re-read the shared file when a symbol is unknown
    event_log: str = ""  # the engine's event log (same host): views rebuilt from it at start

    def __post_init__(self) -> None:
        s = self.settings
        for what, p in (("cert", s.cert), ("key", s.key)) + (
            (("client_ca", s.client_ca),) if s.client_ca else ()
        ):
            if not Path(p).is_file():
                raise ConfigError(
                    f"[gateway].{what} = {p!r} does not exist; run `oms certs init` or fix the path"
                )
        self.store = TokenStore(s.tokens_file)
        self.audit: AuditSink = open_sink(s.audit_file, s.audit_dsn)
        self.link = EngineLink(
            self.prefix, capacity=s.ring_capacity, create=s.create_rings, ack_timeout_s=s.ack_timeout_s
        )
        self.resolver = Resolver(self.instruments, reload=self.reload_instruments)
        self.front: TlsFront | None = None
        self.auth = Authenticator(
            self.store,
            self.audit,
            totp_single_use=s.totp_single_use,
            totp_max_failures=s.totp_max_failures,
            totp_lock_s=s.totp_lock_s,
            peer_auth_rate=s.peer_auth_rate,
            peer_auth_burst=s.peer_auth_burst,
        )
        self.server: grpc.aio.Server | None = None
        self.gateway_servicer: GatewayServicer | None = None
        self.health = HealthServicer()
        self.port = 0
        self.backend_port = 0

    async def start(self) -> None:
        s = self.settings
        if self.event_log:
            from oms.api.state import rebuild

            n = rebuild(self.link.state, self.event_log)
            _log.info("gateway views rebuilt from %d engine events (%s)", n, self.event_log)
        self.link.open()
        await self.link.start()
        opts = [
            ("grpc.max_receive_message_length", s.max_message_bytes),
            ("grpc.max_send_message_length", s.max_message_bytes),
            ("grpc.so_reuseport", 0),
        ]
        server = grpc.aio.server(interceptors=[AuthInterceptor(self.auth)], options=opts)
        self.gateway_servicer = GatewayServicer(
            self.link,
            self.resolver,
            self.auth,
            self.bbo,
            max_pending=self.settings.stream_max_pending,
            max_buffered=self.settings.stream_max_buffered,
        )
        gateway_pb2_grpc.add_GatewayServicer_to_server(self.gateway_servicer, server)
        gateway_pb2_grpc.add_AdminServicer_to_server(
            AdminServicer(self.link, self.resolver, self.auth, self.store), server
        )
        health_pb2_grpc.add_HealthServicer_to_server(self.health, server)
        names = (
            *(gateway_pb2.DESCRIPTOR.services_by_name[n.split(".")[-1]].full_name for n in SERVICES),
            health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
            reflection.SERVICE_NAME,
        )
        reflection.enable_server_reflection(names, server)
        self.backend_port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        self.server = server
        files = TlsFiles(
            Path(s.cert), Path(s.key), Path(s.client_ca) if s.client_ca else None, s.require_client_cert
        )
        self.front = TlsFront(s.host, s.port, ("127.0.0.1", self.backend_port), files)
        await self.front.start()
        self.auth.resolve_peer = self.front.resolve
        self.auth.drop_peer = self.front.drop
        self.port = self.front.port
        for name in ("", *SERVICES):
            await self.health.set(name, health_pb2.HealthCheckResponse.SERVING)
        _log.info(
            "gateway listening on %s:%d (TLS 1.3 only%s), engine rings prefix %r",
            s.host,
            self.port,
            ", mTLS" if s.client_ca else "",
            self.prefix,
        )

    async def stop(self, grace: float = 1.0) -> None:
        await self.health.enter_graceful_shutdown()
        if self.front is not None:
            await self.front.stop()
        if self.server is not None:
            await self.server.stop(grace)
            self.server = None
        await self.link.stop()
        self.audit.close()

    async def __aenter__(self) -> Gateway:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


async def serve_forever(gw: Gateway, stop: asyncio.Event) -> None:
    await gw.start()
    try:
        await stop.wait()
    finally:
        await gw.stop()


class GatewayThread:
    """Runs a Gateway on its own event loop in a daemon thread (tests, benchmarks, embedding in sync code)."""

    def __init__(self, gw: Gateway) -> None:
        import threading

        self.gw = gw
        self.loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="gateway", daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self.gw.start())
        except BaseException as e:
            self._error = e
            self._ready.set()
            return
        self._ready.set()
        self.loop.run_forever()

    def start(self, timeout: float = 20.0) -> GatewayThread:
        self._thread.start()
        if not self._ready.wait(timeout):
            raise TimeoutError("gateway did not start")
        if self._error is not None:
            raise self._error
        return self

    def call(self, coro: Any, timeout: float = 10.0) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def stop(self) -> None:
        if self._thread.is_alive():
            if self._error is None:
                self.call(self.gw.stop(0.5))
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(10)
        self.loop.close()

    @property
    def port(self) -> int:
        return self.gw.port


def _main(argv: list[str] | None = None) -> int:
    """`python -m oms.api.server --settings '{json}' --prefix P`: a gateway on the built-in demo
    instrument table (benchmarks and tests; the supervised program is oms/procs/gateway.py)."""
    import argparse
    import json
    import signal

    from oms.api.instruments import demo_registry

    ap = argparse.ArgumentParser(prog="oms.api.server")
    ap.add_argument("--settings", required=True, help="[gateway] settings as a JSON object")
    ap.add_argument("--prefix", required=True)
    args = ap.parse_args(argv)
    log.setup(level="WARNING")

    async def run() -> None:
        gw = Gateway(Settings(**json.loads(args.settings)), demo_registry(), prefix=args.prefix)
        await gw.start()
        stop = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            asyncio.get_running_loop().add_signal_handler(sig, stop.set)
        print(f"gateway ready port={gw.port}", flush=True)
        await stop.wait()
        await gw.stop(0.2)

    asyncio.run(run())
    return 0


if __name__ == "__main__":
    raise SystemExit(_main())
