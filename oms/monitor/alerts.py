"""Monitor room: delivery of anomaly alerts to Slack and Discord incoming webhooks.

Touches the network only to POST to the webhook URLs from `[monitor]` (never logged: they are
credentials). Slack gets `{"text": ...}`, Discord `{"content": ...}`, the two services' documented
incoming-webhook bodies. Delivery is best-effort and bounded in time; failures are counted and logged
(with the sink name, never the URL) and never stop the monitor.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import aiohttp

from oms import log
from oms.monitor.anomaly import Anomaly

_log = log.get(__name__)


@dataclass
class Sink:
    name: str  # "slack" or "discord"
    url: str
    body_key: str  # "text" (Slack) or "content" (Discord)
    sent: int = 0
    failed: int = 0


@dataclass
class AlertSender:
    sinks: list[Sink]
    timeout_s: float = 5.0
    history: list[Anomaly] = field(default_factory=list)  # last alerts, newest last (for /api/summary)
    _session: aiohttp.ClientSession | None = None

    @classmethod
    def from_urls(cls, slack: str = "", discord: str = "", timeout_s: float = 5.0) -> AlertSender:
        sinks = []
        if slack:
            sinks.append(Sink("slack", slack, "text"))
        if discord:
            sinks.append(Sink("discord", discord, "content"))
        return cls(sinks, timeout_s)

    async def send(self, anomaly: Anomaly, unit: str = "") -> None:
        self.history.append(anomaly)
        del self.history[:-20]
        text = anomaly.text(unit)
        _log.warning("%s", text)
        if not self.sinks:
            return
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout_s))
        await asyncio.gather(*(self._post(s, text) for s in self.sinks))

    async def send_text(self, text: str) -> None:
        """A producer's alert (already worded for a person) to every sink."""
        _log.warning("%s", text)
        if not self.sinks:
            return
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout_s))
        await asyncio.gather(*(self._post(s, text) for s in self.sinks))

    async def _post(self, sink: Sink, text: str) -> None:
        assert self._session is not None
        try:
            async with self._session.post(sink.url, json={sink.body_key: text}) as resp:
                if 200 <= resp.status < 300:
                    sink.sent += 1
                    return
                sink.failed += 1
                _log.warning("alert to %s refused: HTTP %s", sink.name, resp.status)
        except (aiohttp.ClientError, TimeoutError, OSError) as e:
            sink.failed += 1
            _log.warning("alert to %s failed: %s", sink.name, type(e).__name__)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
