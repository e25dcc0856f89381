"""Binance simulator room: `SimThread` (the kit's thread runner bound to a `BinanceSim`, for sync tests
and tools) and `point_python_binance` (aim python-binance's URL class attributes at a simulator).

Touches python-binance's class attributes only when asked, and returns a function that restores them.
"""

from __future__ import annotations

from collections.abc import Callable

from oms.venues.sim.binance.config import SimConfig
from oms.venues.sim.binance.server import BinanceSim
from oms.venues.sim.kit.thread import SimThread as KitSimThread


class SimThread(KitSimThread):
    """`with SimThread(seed=1) as st: st.url, st.ws_url, st.sim, st.call(fn, *args)`."""

    sim: BinanceSim

    def __init__(
        self,
        seed: int = 0,
        config: SimConfig | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        flow: bool | None = None,
    ) -> None:
        super().__init__(BinanceSim(seed=seed, config=config, flow=flow), host=host, port=port)

    def __enter__(self) -> SimThread:
        self.start()
        return self


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
