"""Simulator kit room: the WebSocket side every simulated venue shares — one bounded queue and one
writer task per connection (a slow client is dropped, never blocks matching), fan-out by stream name,
the `ws_drop_rate` and `drop_ws` faults, and the serve loop a venue's handlers run on.

Touches nothing outside its connections. What a frame looks like, which streams exist and how a client
subscribes or logs in is the venue's (its hub subclasses `WsHubBase` and answers `on_text`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from oms.venues.sim.kit.faults import Faults

QUEUE_MAX = 10_000


@dataclass(eq=False)
class Conn:
    ws: web.WebSocketResponse
    market: str
    combined: bool = False
    streams: set[str] = field(default_factory=set)
    user: tuple[int, str] | None = None  # (account uid, market) for a private stream
    ws_api_subs: dict[int, tuple[int, str]] = field(default_factory=dict)  # subscription id -> (uid, market)
    queue: asyncio.Queue = field(default_factory=lambda: asyncio.Queue(QUEUE_MAX))
    closed: bool = False
    authed: Any = None  # whatever a venue keeps once a private connection has logged in

    def put(self, frame: Any) -> None:
        if self.closed:
            return
        try:
            self.queue.put_nowait(frame)
        except asyncio.QueueFull:
            self.closed = True  # the venue drops a client that cannot keep up


class WsHubBase:
    """Connections, fan-out and faults; a venue adds its streams and control messages."""

    def __init__(self, faults: Faults, clock: Callable[[], int]) -> None:
        self.faults = faults
        self.clock = clock
        self.conns: set[Conn] = set()

    def _send(self, market: str, stream: str, payload: dict[str, Any]) -> None:
        for c in list(self.conns):
            if c.market == market and stream in c.streams:
                c.put({"stream": stream, "data": payload} if c.combined else payload)

    def drop_all(self) -> int:
        """Close every connection now (the `drop_ws` fault, maintenance); returns how many were open."""
        n = 0
        for c in list(self.conns):
            if not c.closed:
                c.closed = True
                n += 1
            with contextlib.suppress(asyncio.QueueFull):
                c.queue.put_nowait(None)
        return n

    async def serve(
        self,
        request: web.Request,
        conn: Callable[[web.WebSocketResponse], Conn],
        on_text: Callable[[Conn, str], Any],
        heartbeat: float = 20.0,
    ) -> web.WebSocketResponse:
        """Accept, then answer each text frame with `on_text(conn, text)` (None = no reply)."""
        ws = web.WebSocketResponse(heartbeat=heartbeat, autoping=True)
        await ws.prepare(request)
        c = conn(ws)
        self.conns.add(c)
        writer = asyncio.create_task(self._writer(c))
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                reply = on_text(c, msg.data)
                if reply is not None:
                    c.put(reply)
        finally:
            c.closed = True
            self.conns.discard(c)
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await writer
            self.on_close(c)
        return ws

    def on_close(self, conn: Conn) -> None:
        """A connection ended (the venue may act on it, e.g. Bybit's disconnect-cancel)."""

    async def _writer(self, conn: Conn) -> None:
        while True:
            frame = await conn.queue.get()
            if frame is None or conn.closed:
                await conn.ws.close()
                return
            if self.faults.ws_drop_rate and self.faults.rng.random() < self.faults.ws_drop_rate:
                conn.closed = True
                await conn.ws.close()
                return
            await conn.ws.send_str(frame if isinstance(frame, str) else json.dumps(frame))
            if (conn.user is not None or conn.ws_api_subs) and self.faults.take_user_frame():
                self.drop_private()  # the `drop_user_ws_after` fault: the user stream dies mid-fill

    def drop_private(self) -> int:
        """Close every private (user-data) connection now; returns how many."""
        n = 0
        for c in list(self.conns):
            if (c.user is not None or c.ws_api_subs) and not c.closed:
                c.closed = True
                n += 1
                with contextlib.suppress(asyncio.QueueFull):
                    c.queue.put_nowait(None)
        return n
