"""Simulator kit room: `SimThread` — any venue simulator on its own event loop in a thread, for sync
tests and tools (`with SimThread(sim) as st: st.url, st.call(fn, ...)`).

Touches nothing but the simulator it runs.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

from oms.venues.sim.kit.server import SimServer

T = TypeVar("T")


class SimThread:
    def __init__(self, sim: SimServer, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.sim: Any = sim
        self._host, self._port = host, port
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name=f"{sim.venue}-sim", daemon=True)
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

    def __enter__(self) -> Any:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
