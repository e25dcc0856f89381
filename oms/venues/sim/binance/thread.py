"""Binance simulator room: `SimThread` (the simulator on its own event loop in a thread, for sync tests
and tools) and `point_python_binance` (aim python-binance's URL class attributes at a simulator).

Touches python-binance's class attributes only when asked, and returns a function that restores them.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

from oms.venues.sim.binance.config import SimConfig
from oms.venues.sim.binance.server import BinanceSim

T = TypeVar("T")


class SimThread:
    """`with SimThread(seed=1) as st: st.url, st.ws_url, st.sim, st.call(fn, *args)`."""

    def __init__(
        self,
        seed: int = 0,
        config: SimConfig | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        flow: bool | None = None,
    ) -> None:
        self.sim = BinanceSim(seed=seed, config=config, flow=flow)
        self._host, self._port = host, port
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="binance-sim", daemon=True)
        self._ready: Future[None] = Future()

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self.sim.start(self._host, self._port))
        except BaseException as e:  # report start failures to the caller
            self._ready.set_exception(e)
            return
        self._ready.set_result(None)
        self._loop.run_forever()
        self._loop.run_until_complete(self.sim.stop())
        self._loop.close()

    def start(self) -> SimThread:
        self._thread.start()
        self._ready.result(timeout=30)
        return self

    def stop(self) -> None:
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=30)

    def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run `fn` on the simulator's loop thread (thread-safe admin access) and return its result."""
        fut: Future[T] = Future()

        def run() -> None:
            try:
                fut.set_result(fn(*args, **kwargs))
            except BaseException as e:
                fut.set_exception(e)

        self._loop.call_soon_threadsafe(run)
        return fut.result(timeout=30)

    @property
    def url(self) -> str:
        return self.sim.url

    @property
    def ws_url(self) -> str:
        return self.sim.ws_url

    def __enter__(self) -> SimThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def point_python_binance(url: str, ws_url: str) -> Callable[[], None]:
    """Set python-binance's URL templates (class attributes) to the simulator; returns `restore()`.

    Call before constructing a Client/AsyncClient (their __init__ formats these). Spot REST
    `<url>/api`, USD-M `<url>/fapi`, spot streams `<ws_url>/`, USD-M streams `<ws_url>/fstream/`,
    WS API `<ws_url>/ws-api/v3`. Every other family points at the simulator too, so nothing leaves
    loopback by accident (the simulator answers those with 404).
    """
    from binance.base_client import BaseClient
    from binance.ws.streams import BinanceSocketManager

    url, ws_url = url.rstrip("/"), ws_url.rstrip("/")
    base = {
        "API_URL": url + "/api",
        "API_TESTNET_URL": url + "/api",
        "API_DEMO_URL": url + "/api",
        "MARGIN_API_URL": url + "/sapi",
        "WEBSITE_URL": url + "/www",
        "FUTURES_URL": url + "/fapi",
        "FUTURES_TESTNET_URL": url + "/fapi",
        "FUTURES_DEMO_URL": url + "/fapi",
        "FUTURES_DATA_URL": url + "/futures/data",
        "FUTURES_DATA_TESTNET_URL": url + "/futures/data",
        "FUTURES_COIN_URL": url + "/dapi",
        "FUTURES_COIN_TESTNET_URL": url + "/dapi",
        "FUTURES_COIN_DEMO_URL": url + "/dapi",
        "FUTURES_COIN_DATA_URL": url + "/futures/data",
        "FUTURES_COIN_DATA_TESTNET_URL": url + "/futures/data",
        "OPTIONS_URL": url + "/eapi",
        "OPTIONS_TESTNET_URL": url + "/eapi",
        "PAPI_URL": url + "/papi",
        "WS_API_URL": ws_url + "/ws-api/v3",
        "WS_API_TESTNET_URL": ws_url + "/ws-api/v3",
        "WS_API_DEMO_URL": ws_url + "/ws-api/v3",
        "WS_FUTURES_URL": ws_url + "/ws-fapi/v1",
        "WS_FUTURES_TESTNET_URL": ws_url + "/ws-fapi/v1",
        "WS_FUTURES_DEMO_URL": ws_url + "/ws-fapi/v1",
    }
    socks = {
        "STREAM_URL": ws_url + "/",
        "STREAM_TESTNET_URL": ws_url + "/",
        "STREAM_DEMO_URL": ws_url + "/",
        "FSTREAM_URL": ws_url + "/fstream/",
        "FSTREAM_TESTNET_URL": ws_url + "/fstream/",
        "FSTREAM_DEMO_URL": ws_url + "/fstream/",
        "DSTREAM_URL": ws_url + "/dstream/",
        "DSTREAM_TESTNET_URL": ws_url + "/dstream/",
        "DSTREAM_DEMO_URL": ws_url + "/dstream/",
    }
    saved = [(BaseClient, k, getattr(BaseClient, k)) for k in base if hasattr(BaseClient, k)]
    saved += [
        (BinanceSocketManager, k, getattr(BinanceSocketManager, k))
        for k in socks
        if hasattr(BinanceSocketManager, k)
    ]
    for cls, table in ((BaseClient, base), (BinanceSocketManager, socks)):
        for k, v in table.items():
            if hasattr(cls, k):
                setattr(cls, k, v)

    def restore() -> None:
        for cls, k, v in saved:
            setattr(cls, k, v)

    return restore
