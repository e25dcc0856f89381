"""Monitor room: host and bus figures — CPU per core and per program, RSS per program, NATS rates and
JetStream stream state — sampled off the hot path by the monitor's own loop.

Touches, read-only: /proc through psutil (the supervised programs' pids, found through supervisord's
XML-RPC unix socket or given explicitly), and nats-server's HTTP monitoring endpoints /varz and /jsz.
That port is enabled by the services room bound to 127.0.0.1 only (oms/services/nats.py: `http:
127.0.0.1:<monitor_port>`, no credential), so `nats_monitor_url` must be a loopback http:// URL.
"""

from __future__ import annotations

import contextlib
import json
import time
import urllib.request
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from oms import log

_log = log.get(__name__)

PidSource = Callable[[], dict[str, int]]


def supervisor_pids(sock: Path) -> PidSource:
    """Running programs' pids from supervisord's XML-RPC unix socket ({} while it is not up)."""

    def read() -> dict[str, int]:
        if not sock.exists():
            return {}
        import http.client
        import socket
        import xmlrpc.client

        class _Conn(http.client.HTTPConnection):
            def connect(self) -> None:
                self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                self.sock.settimeout(2.0)
                self.sock.connect(str(sock))

        class _Transport(xmlrpc.client.Transport):
            def make_connection(self, host: Any) -> http.client.HTTPConnection:
                return _Conn("localhost")

        try:
            proxy = xmlrpc.client.ServerProxy("http://localhost", transport=_Transport())
            infos = proxy.supervisor.getAllProcessInfo()
        except (OSError, xmlrpc.client.Error) as e:
            _log.debug("supervisor socket %s: %s", sock, e)
            return {}
        return {str(i["name"]): int(i["pid"]) for i in infos if int(i["pid"]) > 0}  # type: ignore[union-attr]

    return read


@dataclass
class ProgramSample:
    pid: int
    cpu_seconds: float  # user + system since the program started
    cpu_ratio: float  # share of one core over the last poll interval
    rss_bytes: int


@dataclass
class StreamState:
    messages: int
    bytes: int
    consumers: int
    first_seq: int
    last_seq: int


@dataclass
class NatsSample:
    in_msgs: int = 0
    out_msgs: int = 0
    in_bytes: int = 0
    out_bytes: int = 0
    rates: dict[str, float] = field(default_factory=dict)  # in_msgs/out_msgs/in_bytes/out_bytes per s
    js_streams: dict[str, StreamState] = field(default_factory=dict)
    up: bool = False
    error: str = ""


class SystemSampler:
    """One `poll()` per monitor tick; the results stay on the object for the exporter and `oms top`."""

    def __init__(self, pids: PidSource | None = None, nats_monitor_url: str = "") -> None:
        self.pids = pids or (lambda: {})
        self.nats_url = nats_monitor_url.rstrip("/")
        self.cores: list[float] = []  # utilisation ratio per logical core over the last interval
        self.programs: dict[str, ProgramSample] = {}
        self.nats = NatsSample()
        self._procs: dict[int, psutil.Process] = {}
        self._nats_prev: deque[tuple[float, NatsSample]] = deque(maxlen=2)
        psutil.cpu_percent(percpu=True)  # prime: the next call measures from here

    def poll(self) -> None:
        self.cores = [p / 100.0 for p in psutil.cpu_percent(percpu=True)]
        self._poll_programs()
        if self.nats_url:
            self._poll_nats()

    def _poll_programs(self) -> None:
        out: dict[str, ProgramSample] = {}
        live: dict[int, psutil.Process] = {}
        for name, pid in sorted(self.pids().items()):
            proc = self._procs.get(pid)
            try:
                if proc is None:
                    proc = psutil.Process(pid)
                    proc.cpu_percent(None)  # prime
                with proc.oneshot():
                    t = proc.cpu_times()
                    out[name] = ProgramSample(
                        pid, t.user + t.system, proc.cpu_percent(None) / 100.0, proc.memory_info().rss
                    )
                live[pid] = proc
            except psutil.Error:  # gone between listing and reading: reported next poll if restarted
                continue
        self._procs = live
        self.programs = out

    def _get(self, path: str) -> dict[str, Any]:
        with urllib.request.urlopen(f"{self.nats_url}{path}", timeout=2.0) as r:
            return json.loads(r.read())

    def _poll_nats(self) -> None:
        try:
            v = self._get("/varz")
            js = self._get("/jsz?streams=true")
        except (OSError, ValueError) as e:
            self.nats = NatsSample(error=f"{self.nats_url}: {e}")
            return
        s = NatsSample(
            int(v.get("in_msgs", 0)),
            int(v.get("out_msgs", 0)),
            int(v.get("in_bytes", 0)),
            int(v.get("out_bytes", 0)),
            up=True,
        )
        for acct in js.get("account_details") or []:
            for st in acct.get("stream_detail") or []:
                state = st.get("state") or {}
                s.js_streams[str(st.get("name"))] = StreamState(
                    int(state.get("messages", 0)),
                    int(state.get("bytes", 0)),
                    int(state.get("consumer_count", 0)),
                    int(state.get("first_seq", 0)),
                    int(state.get("last_seq", 0)),
                )
        now = time.monotonic()
        if self._nats_prev:
            t0, p = self._nats_prev[-1]
            dt = now - t0
            if dt > 0:
                for k in ("in_msgs", "out_msgs", "in_bytes", "out_bytes"):
                    s.rates[k] = max(0, getattr(s, k) - getattr(p, k)) / dt
        self._nats_prev.append((now, s))
        self.nats = s

    def summary(self) -> dict[str, object]:
        return {
            "cpu_per_core": [round(c, 3) for c in self.cores],
            "programs": {
                n: {"pid": p.pid, "cpu": round(p.cpu_ratio, 3), "rss_mb": round(p.rss_bytes / 2**20, 1)}
                for n, p in self.programs.items()
            },
            "nats": {"up": self.nats.up, "rates": {k: round(v, 1) for k, v in self.nats.rates.items()}},
        }


class Rates:
    """Per-key rates (events/s) over the last `window_s` from cumulative counts sampled at scrape time."""

    def __init__(self, window_s: float = 10.0) -> None:
        self.window_s = window_s
        self._hist: deque[tuple[float, dict[str, int]]] = deque(maxlen=256)

    def update(self, counts: dict[str, int], now: float | None = None) -> dict[str, float]:
        now = time.monotonic() if now is None else now
        self._hist.append((now, dict(counts)))
        while len(self._hist) > 2 and now - self._hist[0][0] > self.window_s:
            self._hist.popleft()
        t0, c0 = self._hist[0]
        dt = now - t0
        with contextlib.suppress(ZeroDivisionError):
            if dt > 0.2:
                return {k: max(0, n - c0.get(k, 0)) / dt for k, n in counts.items()}
        return {k: 0.0 for k in counts}
