"""Services room: a NATS cluster on loopback — n nats-server nodes (3 by default) routed into one cluster,
JetStream on each, so streams with 3 replicas survive the loss of any one node.

Touches what NatsServer touches, once per node (`<data_dir>/node<i>/`: config, JetStream store, log) and
one more loopback port per node (the cluster route listener). Every port is fixed after the first start,
so a node that is killed and restarted comes back under the same name and store and rejoins its peers.
Ready means every node answers /healthz with JetStream enabled and the JetStream meta group has elected
a leader (streams cannot be created before that). Drives the same life cycle as a single NatsServer
(spawn, wait_ready, start, stop, healthy, info), so `ServiceSet` and `oms up` take either.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from oms.services.base import ServiceError
from oms.services.nats import NatsServer, _http_json
from oms.services.ports import HOST, free_port
from oms.testing import NotYet, eventually

SIZES = (1, 3, 5)  # Raft wants an odd number of JetStream peers


class NatsCluster:
    name = "nats"

    def __init__(
        self,
        data_dir: str | Path,
        size: int = 3,
        *,
        ports: list[int] | None = None,
        cluster_name: str = "oms",
        max_memory_store: str = "256MB",
        max_file_store: str = "1GB",
        max_payload: str = "8MB",
    ) -> None:
        if size not in SIZES or size < 2:
            raise ServiceError(f"a NATS cluster needs 3 or 5 nodes, not {size} (1 = a single NatsServer)")
        ports = list(ports or [0] * size)
        if len(ports) != size:
            raise ServiceError(f"NatsCluster: {len(ports)} client ports given for {size} nodes")
        self.data_dir = Path(data_dir).absolute()
        self.size = size
        self.cluster_name = cluster_name
        self.route_ports: list[int] = []
        self.nodes = [
            NatsServer(
                self.data_dir / f"node{i + 1}",
                ports[i],
                max_memory_store=max_memory_store,
                max_file_store=max_file_store,
                max_payload=max_payload,
                users_dir=self.data_dir / "auth",  # one user table for all nodes: log in to any of them
            )
            for i in range(size)
        ]
        self._auto_port = any(p == 0 for p in ports)
        self.started_s: float | None = None

    # --- credentials (the nodes share one user table) ----------------------------------------------
    @property
    def users(self) -> Any:
        return self.nodes[0].users

    def url_for(self, user: str) -> str:
        return ",".join(n.url_for(user) for n in self.nodes)

    @property
    def admin_url(self) -> str:
        return ",".join(n.admin_url for n in self.nodes)

    def credential(self, user: str) -> dict[str, str]:
        return self.nodes[0].credential(user)

    # --- addresses ---------------------------------------------------------------------------------
    @property
    def urls(self) -> list[str]:
        return [n.url for n in self.nodes]

    @property
    def url(self) -> str:
        """Every node's URL, comma-separated: what [bus].nats_url and OMS_NATS_URL take for a cluster."""
        return ",".join(self.urls)

    @property
    def port(self) -> int:
        return self.nodes[0].port

    @property
    def pid(self) -> int | None:
        return self.nodes[0].pid

    def node_named(self, server_name: str) -> int:
        """Index of the node JetStream calls `server_name` (e.g. a stream's leader)."""
        for i, n in enumerate(self.nodes):
            if f"oms_{n.port}" == server_name:
                return i
        raise KeyError(f"no node of this cluster is named {server_name!r}: {self.server_names()}")

    def server_names(self) -> list[str]:
        return [f"oms_{n.port}" for n in self.nodes]

    # --- life cycle --------------------------------------------------------------------------------
    def prepare(self) -> None:
        """Pick every port (client, monitoring, route) once and write each node's config."""
        if not self.route_ports:
            taken: set[int] = set()
            for n in self.nodes:
                n._pick_ports()
                n._auto_port = n._auto_monitor = False  # a restarted node keeps its name and ports
                taken |= {n.port, n.monitor_port}
            for _ in self.nodes:
                p = free_port()
                while p in taken:
                    p = free_port()
                taken.add(p)
                self.route_ports.append(p)
        routes = ", ".join(f"nats-route://{HOST}:{p}" for p in self.route_ports)
        for n, rport in zip(self.nodes, self.route_ports, strict=True):
            n.extra_conf = (
                f"cluster {{\n  name: {self.cluster_name}\n  listen: {HOST}:{rport}\n"
                f"  routes: [{routes}]\n  connect_retries: 120\n}}\n"
            )
            n.data_dir.mkdir(parents=True, exist_ok=True)
            n._prepare()

    def spawn(self) -> None:
        self.prepare()
        self._t0 = time.monotonic()
        for n in self.nodes:
            n.spawn()

    def wait_ready(self, timeout: float = 60.0) -> None:
        for n in self.nodes:
            n.wait_ready(timeout)
        try:
            eventually(self.healthy, timeout, interval=0.05, max_interval=0.5)
        except NotYet:
            raise ServiceError(
                f"NATS cluster {self.cluster_name}: no JetStream meta leader within {timeout:.0f}s; logs: "
                + ", ".join(str(n.log_path) for n in self.nodes)
            ) from None
        self.started_s = time.monotonic() - self._t0

    def start(self, timeout: float = 60.0) -> NatsCluster:
        self.spawn()
        try:
            self.wait_ready(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self, timeout: float = 15.0) -> None:
        errors = []
        for n in self.nodes:
            try:
                n.stop(timeout)
            except Exception as e:  # stop the others regardless
                errors.append(f"{n.data_dir.name}: {e}")
        if errors:
            raise ServiceError("NATS cluster nodes did not stop cleanly: " + "; ".join(errors))

    def kill(self, i: int) -> None:
        """SIGKILL node i (no shutdown: its peers see a crash) and reap it."""
        node = self.nodes[i]
        if node.proc is None:
            raise ServiceError(f"node {i + 1} is not running")
        os.kill(node.proc.pid, signal.SIGKILL)
        node.proc.wait(10)
        node.proc = None
        node.pid = None

    def restart(self, i: int, timeout: float = 60.0) -> None:
        """Start node i again on its old ports and store (it catches up from its peers)."""
        self.nodes[i].start(timeout)

    def _lost_port_race(self) -> bool:
        return any(n._lost_port_race() for n in self.nodes)

    def healthy(self) -> bool:
        """Every running node healthy with JetStream, and the meta group has a leader."""
        if not all(n.healthy() for n in self.nodes if n.proc is not None or n.pid is not None):
            return False
        return self.meta_leader() is not None

    def meta_leader(self) -> str | None:
        for n in self.nodes:
            with contextlib.suppress(OSError, ValueError):
                _, jsz = _http_json(f"{n.monitor_url}/jsz")
                leader = (jsz.get("meta_cluster") or {}).get("leader") if isinstance(jsz, dict) else None
                if leader:
                    return str(leader)
        return None

    def info(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "pid": self.pid,
            "port": self.port,
            "data_dir": str(self.data_dir),
            "url": self.url,
            "monitor_port": self.nodes[0].monitor_port,
            "nodes": [n.info() for n in self.nodes],
        }

    def __enter__(self) -> NatsCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class ExternalNats:
    """An existing NATS (cluster) named by `[services.nats].urls`: nothing is started; healthy when any of
    its URLs accepts a TCP connection (the programs' own clients then fail over between them)."""

    name = "nats"

    def __init__(self, urls: list[str]) -> None:
        if not urls:
            raise ServiceError("ExternalNats needs at least one nats:// URL")
        self.urls = list(urls)
        self.pid: int | None = None
        self.started_s: float | None = 0.0
        self._auto_port = False

    @property
    def url(self) -> str:
        return ",".join(self.urls)

    @property
    def port(self) -> int:
        return int(urlsplit(self.urls[0]).port or 4222)

    def healthy(self) -> bool:
        for u in self.urls:
            parts = urlsplit(u)
            with contextlib.suppress(OSError):
                socket.create_connection((parts.hostname or HOST, parts.port or 4222), timeout=0.5).close()
                return True
        return False

    def spawn(self) -> None:
        """Nothing to start."""

    def wait_ready(self, timeout: float = 60.0) -> None:
        try:
            eventually(self.healthy, timeout, interval=0.1, max_interval=1.0)
        except NotYet:
            raise ServiceError(
                f"none of the NATS URLs {self.url} answers; check [services.nats].urls"
            ) from None

    def start(self, timeout: float = 60.0) -> ExternalNats:
        self.wait_ready(timeout)
        return self

    def stop(self, timeout: float = 15.0) -> None:
        """Not ours to stop."""

    def _lost_port_race(self) -> bool:
        return False

    def info(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "pid": None,
            "port": self.port,
            "data_dir": "",
            "url": self.url,
            "external": True,
        }


def from_settings(sub: Any, data_dir: Path) -> NatsCluster | ExternalNats:
    """`[services.nats]` with `urls` (an existing NATS) or `cluster = 3|5` (local nodes under data_dir)."""
    if sub.urls:
        return ExternalNats(sub.urls)
    return NatsCluster(
        data_dir,
        sub.cluster,
        max_memory_store=sub.max_memory_store,
        max_file_store=sub.max_file_store,
        max_payload=sub.max_payload,
    )
