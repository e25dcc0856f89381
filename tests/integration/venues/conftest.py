"""Venues room fixtures: a real Binance simulator on a free loopback port, and python-binance aimed at it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from oms.venues.sim.binance import SimThread, point_python_binance

API_KEY = "venues-test-key"
API_SECRET = "venues-test-secret-0123456789abcdef"


@pytest.fixture(scope="module")
def sim() -> Iterator[SimThread]:
    with SimThread(seed=7) as st:
        st.call(st.sim.add_api_key, API_KEY, API_SECRET)
        restore = point_python_binance(st.url, st.ws_url)
        try:
            yield st
        finally:
            restore()


@pytest.fixture(scope="module")
def client(sim: SimThread):
    from binance.client import Client

    c = Client(API_KEY, API_SECRET)
    yield c
    c.close_connection()


@pytest.fixture
def short_ws_timeout() -> Iterator[None]:
    """python-binance's read loop notices a close only between frames (recv timeout 10 s), so closing a
    quiet socket waits that long; tests shorten the client's own timeout."""
    from binance.ws.reconnecting_websocket import ReconnectingWebsocket

    saved = ReconnectingWebsocket.TIMEOUT
    ReconnectingWebsocket.TIMEOUT = 1
    try:
        yield
    finally:
        ReconnectingWebsocket.TIMEOUT = saved
