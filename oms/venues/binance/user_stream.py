"""Binance connector room: the user data stream — listen key, keep-alive, WS with ping/pong, reconnect.

Touches the venue's listen-key REST endpoints (through `VenueRest`) and one WebSocket per market
(`<ws_url>/<listenKey>`, aiohttp with a `heartbeat`: a ping every `heartbeat_s`, the connection is
dropped when the pong does not come). Reports are normalised (`normalise`) and handed to the
`Executor`; balances / positions from account updates are kept for the stats. After every
(re)connect `on_connected(market)` runs — the connector reconciles there, so whatever happened while
the stream was down is fetched by REST while new reports already flow (trade ids dedupe the overlap).
Reconnects wait a full-jitter backoff (oms/conn/backoff.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from oms import log
from oms.conn.backoff import Backoff
from oms.conn.rest import VenueRest
from oms.errors import OmsError

_log = log.get(__name__)


def normalise(msg: dict[str, Any]) -> dict[str, Any] | None:
    """A spot `executionReport` or USD-M `ORDER_TRADE_UPDATE` as one flat dict; None for other events."""
    e = msg.get("e")
    if e == "executionReport":
        o = msg
        cid = o.get("C") or o.get("c") or ""  # on a cancel, C is the original id, c the cancel's
    elif e == "ORDER_TRADE_UPDATE":
        o = msg.get("o", {})
        cid = o.get("c") or ""
    else:
        return None
    return {
        "symbol": o.get("s", ""),
        "cid": cid,
        "exec_type": o.get("x", ""),
        "status": o.get("X", ""),
        "order_id": int(o.get("i") or 0),
        "last_qty": o.get("l") or "0",
        "last_px": o.get("L") or "0",
        "cum_qty": o.get("z") or "0",
        "fee": o.get("n") or "0",
        "fee_asset": o.get("N") or "",
        "trade_id": int(o.get("t") or 0),
        "maker": bool(o.get("m")),
        "ts": int(o.get("T") or msg.get("E") or 0),
        "reject_reason": o.get("r", ""),
        "orig_type": o.get("ot", ""),
    }


@dataclass(slots=True)
class StreamStats:
    connects: int = 0
    reconnects: int = 0
    messages: int = 0
    reports: int = 0
    keepalives: int = 0
    keepalive_errors: int = 0
    last_error: str = ""
    balances: dict[str, str] = field(default_factory=dict)
    positions: dict[str, str] = field(default_factory=dict)


class UserStream:
    def __init__(
        self,
        market: str,
        rest: VenueRest,
        ws_url: str,
        on_report: Callable[[dict[str, Any]], Awaitable[None]],
        on_connected: Callable[[str], Awaitable[None]],
        on_state: Callable[[str, bool], None],
        *,
        keepalive_s: float = 1800.0,
        heartbeat_s: float = 20.0,
        backoff: Backoff | None = None,
    ) -> None:
        self.market = market
        self.rest = rest
        self.ws_url = ws_url.rstrip("/")
        self.on_report = on_report
        self.on_connected = on_connected
        self.on_state = on_state
        self.keepalive_s = keepalive_s
        self.heartbeat_s = heartbeat_s
        self.backoff = backoff or Backoff(0.2, 10.0)
        self.stats = StreamStats()
        self.connected = False
        self.listen_key = ""
        self._stop = asyncio.Event()
        self._ws: aiohttp.ClientWebSocketResponse | None = None

    async def _new_key(self) -> str:
        if self.market == "spot":
            return str(await self.rest.call("spot", "stream_get_listen_key", weight=2, signed=False))
        return str(await self.rest.call("usdm", "futures_stream_get_listen_key", weight=1, signed=False))

    async def _keepalive(self) -> None:
        while True:
            await asyncio.sleep(self.keepalive_s)
            try:
                if self.market == "spot":
                    await self.rest.call(
                        "spot", "stream_keepalive", weight=2, signed=False, listenKey=self.listen_key
                    )
                else:
                    await self.rest.call(
                        "usdm", "futures_stream_keepalive", weight=1, signed=False, listenKey=self.listen_key
                    )
                self.stats.keepalives += 1
            except OmsError as e:
                self.stats.keepalive_errors += 1
                _log.warning(
                    "%s listen key keep-alive failed (%s); reconnecting with a new key", self.market, e
                )
                if self._ws is not None:
                    await self._ws.close()
                return

    async def run(self, session: aiohttp.ClientSession) -> None:
        while not self._stop.is_set():
            keep: asyncio.Task | None = None
            try:
                self.listen_key = await self._new_key()
                url = f"{self.ws_url}/{self.listen_key}"
                async with session.ws_connect(url, heartbeat=self.heartbeat_s, autoping=True) as ws:
                    self._ws = ws
                    self.connected = True
                    self.stats.connects += 1
                    self.backoff.reset()
                    self.on_state(self.market, True)
                    _log.info("%s user data stream connected", self.market)
                    keep = asyncio.create_task(self._keepalive())
                    recon = asyncio.create_task(self.on_connected(self.market))
                    async for msg in ws:
                        if msg.type != aiohttp.WSMsgType.TEXT:
                            if msg.type in (aiohttp.WSMsgType.ERROR, aiohttp.WSMsgType.CLOSED):
                                break
                            continue
                        await self._handle(msg.data)
                    with contextlib.suppress(Exception):
                        await recon
            except (TimeoutError, OmsError, aiohttp.ClientError, OSError) as e:
                self.stats.last_error = str(e)
                _log.warning("%s user data stream: %s", self.market, e)
            finally:
                if keep is not None:
                    keep.cancel()
                self._ws = None
                if self.connected:
                    self.stats.reconnects += 1
                self.connected = False
                self.on_state(self.market, False)
            if self._stop.is_set():
                break
            delay = self.backoff.next()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._stop.wait(), delay)

    async def _handle(self, text: str) -> None:
        self.stats.messages += 1
        try:
            msg = json.loads(text)
        except ValueError:
            return
        if "data" in msg and isinstance(msg["data"], dict):
            msg = msg["data"]
        if "event" in msg and isinstance(msg["event"], dict):
            msg = msg["event"]
        e = msg.get("e")
        if e == "listenKeyExpired" and self._ws is not None:
            _log.warning("%s listen key expired; reconnecting", self.market)
            await self._ws.close()
            return
        if e == "outboundAccountPosition":
            for b in msg.get("B", []):
                self.stats.balances[b["a"]] = b["f"]
            return
        if e == "ACCOUNT_CONFIG_UPDATE" and isinstance(msg.get("ac"), dict):
            await self.on_report({"account_config": msg["ac"]})  # leverage changed (here or elsewhere)
            return
        if e == "ACCOUNT_UPDATE":
            a = msg.get("a", {})
            for b in a.get("B", []):
                self.stats.balances[b["a"]] = b["wb"]
            for p in a.get("P", []):
                self.stats.positions[p["s"]] = p["pa"]
            return
        r = normalise(msg)
        if r is not None:
            self.stats.reports += 1
            await self.on_report(r)

    async def stop(self) -> None:
        self._stop.set()
        if self._ws is not None:
            await self._ws.close()
