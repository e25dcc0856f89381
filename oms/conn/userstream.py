"""Connector room: a user data stream — connect (the adapter gives the URL, e.g. after a listen key),
keep-alive, WS with ping/pong, reconnect. Venue-neutral: payloads are parsed by the adapter.

Touches the venue's user-stream REST endpoints (through the adapter and `VenueRest`) and one WebSocket
per market (aiohttp with a `heartbeat`: a ping every `heartbeat_s`, the connection is dropped when the
pong does not come). Execution reports go to the `Executor`; balances / positions from account updates
are kept for the stats. After every (re)connect `on_connected(market)` runs — the connector reconciles
there, so whatever happened while the stream was down is fetched by REST while new reports already flow
(trade ids dedupe the overlap). Reconnects wait a full-jitter backoff (oms/conn/backoff.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import aiohttp

from oms import log
from oms.conn.backoff import Backoff
from oms.conn.rest import VenueRest
from oms.errors import OmsError
from oms.venues.interface import AccountUpdate, ExecReport, StreamControl, VenueAdapter, VenueNotice

_log = log.get(__name__)


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
        adapter: VenueAdapter,
        market: str,
        rest: VenueRest,
        ws_url: str,
        on_report: Callable[[ExecReport], Awaitable[None]],
        on_connected: Callable[[str], Awaitable[None]],
        on_state: Callable[[str, bool], None],
        *,
        keepalive_s: float = 1800.0,
        heartbeat_s: float = 20.0,
        backoff: Backoff | None = None,
    ) -> None:
        self.x = adapter.execution
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

    async def _keepalive(self) -> None:
        while True:
            await asyncio.sleep(self.keepalive_s)
            try:
                await self.x.user_stream_keepalive(self.rest, self.market, self.listen_key)
                self.stats.keepalives += 1
            except OmsError as e:
                self.stats.keepalive_errors += 1
                _log.warning("%s user stream keep-alive failed (%s); reconnecting", self.market, e)
                if self._ws is not None:
                    await self._ws.close()
                return

    async def run(self, session: aiohttp.ClientSession) -> None:
        while not self._stop.is_set():
            keep: asyncio.Task | None = None
            try:
                url, self.listen_key = await self.x.user_stream_url(self.rest, self.market, self.ws_url)
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
        if not isinstance(msg, dict):
            return
        try:
            parsed = self.x.parse_user(self.market, msg)
        except OmsError as e:
            self.stats.last_error = f"unparsable report: {e}"
            _log.warning("%s user stream: %s", self.market, e)
            return
        for m in parsed:
            if isinstance(m, ExecReport):
                self.stats.reports += 1
                await self.on_report(m)
            elif isinstance(m, VenueNotice):
                await self.on_report(m)  # type: ignore[arg-type]
            elif isinstance(m, AccountUpdate):
                self.stats.balances.update(m.balances)
                self.stats.positions.update(m.positions)
            elif isinstance(m, StreamControl) and self._ws is not None:
                _log.warning("%s user stream: %s; reconnecting", self.market, m.reason)
                await self._ws.close()
                return

    async def stop(self) -> None:
        self._stop.set()
        if self._ws is not None:
            await self._ws.close()
