"""Services room: start/stop the four local servers as a set, and remember them across invocations.

Touches: the servers it starts, `<data_dir>/<service>/`, `<run_dir>/services.json` (pids, ports, urls,
the OpenBao root token; written 0600) and `<log_dir>/services.log`.

`oms services up` spawns a detached *keeper* process (`python -m oms.services.keeper --keep ...`) that
owns the servers as direct children, writes services.json once all answer, and on SIGTERM/SIGINT stops
them and removes the file. `down` signals the keeper and waits until it and every server are gone and
the ports are free; if the keeper died, it stops the recorded pids itself. `status` probes each service
with a real request. Programs find the running services with `current()`.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from oms import log
from oms.errors import OmsError
from oms.services import nats_cluster
from oms.services.base import Service, ServiceError, pid_alive
from oms.services.nats import NatsServer
from oms.services.openbao import OpenBaoServer
from oms.services.ports import port_free
from oms.services.postgres import PostgresServer
from oms.services.redis import RedisServer
from oms.services.settings import Settings
from oms.testing import NotYet, eventually

_log = log.get("oms.services.manager")
CLASSES: dict[str, type[Service]] = {
    "nats": NatsServer,
    "postgres": PostgresServer,
    "redis": RedisServer,
    "openbao": OpenBaoServer,
}
STATE_FILE = "services.json"


def _abs(path: str, root: Path) -> Path:
    p = Path(path)
    return p if p.is_absolute() else root / p


class ServiceSet:
    """The services named in `settings.start`, built from `[services]`; paths relative to `root`."""

    def __init__(self, settings: Settings | None = None, root: str | Path = ".") -> None:
        self.settings = settings or Settings()
        self.root = Path(root).absolute()
        s = self.settings
        data = _abs(s.data_dir, self.root)
        make: dict[str, Any] = {
            "nats": lambda: NatsServer(
                data / "nats",
                s.nats.port,
                monitor_port=s.nats.monitor_port,
                max_memory_store=s.nats.max_memory_store,
                max_file_store=s.nats.max_file_store,
                max_payload=s.nats.max_payload,
                sync_interval=s.nats.sync_interval,
            ),
            "postgres": lambda: PostgresServer(
                data / "postgres",
                s.postgres.port,
                fsync=s.postgres.fsync,
                database=s.postgres.database,
                keep_data=True,
            ),
            "redis": lambda: RedisServer(data / "redis", s.redis.port, persistent=s.redis.persistent),
            "openbao": lambda: OpenBaoServer(
                data / "openbao", s.openbao.port, root_token=s.openbao.root_token or None
            ),
        }
        if s.nats.urls or s.nats.cluster > 1:  # an existing NATS, or a local cluster of 3 or 5 nodes
            make["nats"] = lambda: nats_cluster.from_settings(s.nats, data / "nats")
        self.services: dict[str, Any] = {name: make[name]() for name in s.start}  # Service or NatsCluster

    @property
    def state_path(self) -> Path:
        return _abs(self.settings.run_dir, self.root) / STATE_FILE

    def start(self) -> dict[str, float]:
        """Spawn every service, then wait for each; returns seconds-to-healthy per service.

        On any failure every service already started is stopped again before the error propagates.
        """
        t0 = time.monotonic()
        try:
            for svc in self.services.values():
                svc.spawn()
            for svc in self.services.values():
                try:
                    svc.wait_ready(self.settings.start_timeout_s)
                except ServiceError:
                    if not svc._auto_port or not svc._lost_port_race():
                        raise
                    svc.start(self.settings.start_timeout_s)  # lost a port race: retry alone
        except BaseException:
            self.stop()
            raise
        times = {n: s.started_s or 0.0 for n, s in self.services.items()}
        times["all"] = time.monotonic() - t0
        return times

    def stop(self) -> None:
        errors = []
        for svc in reversed(list(self.services.values())):
            try:
                svc.stop()
            except Exception as e:  # keep stopping the others
                errors.append(f"{svc.name}: {e}")
        if errors:
            raise ServiceError("some services did not stop cleanly: " + "; ".join(errors))

    def write_state(self, keeper_pid: int) -> None:
        state = {
            "keeper_pid": keeper_pid,
            "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "services": {n: s.info() for n, s in self.services.items()},
        }
        path = self.state_path
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(state, f, indent=2)
        os.replace(tmp, path)


# --- across invocations -----------------------------------------------------------------------
def read_state(state_path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(state_path.read_text())
    except FileNotFoundError:
        return None
    except ValueError as e:
        raise OmsError(f"{state_path}: not valid JSON ({e}); remove it and run `oms services down`") from None


def attach(state: dict[str, Any]) -> dict[str, Service]:
    """Service objects for the recorded pids/ports (for status and down), without starting anything."""
    out: dict[str, Service] = {}
    for name, info in state.get("services", {}).items():
        cls = CLASSES.get(name)
        if cls is not None:
            out[name] = cls.from_info(info)  # type: ignore[attr-defined]
    return out


def current(run_dir: str | Path = "var/run") -> dict[str, dict[str, Any]]:
    """The running services as recorded by `oms services up` (name -> info with url/dsn/port)."""
    state = read_state(Path(run_dir) / STATE_FILE)
    if state is None or not pid_alive(int(state.get("keeper_pid", 0) or 0)):
        raise OmsError(
            f"local services are not up (no live keeper in {run_dir}/{STATE_FILE}); "
            "start them with `oms services up`"
        )
    return dict(state["services"])


def status(state_path: Path) -> list[dict[str, Any]]:
    """One row per service: name, pid, port, alive, healthy, url."""
    state = read_state(state_path)
    if state is None:
        return []
    rows = []
    for name, svc in attach(state).items():
        info = state["services"][name]
        alive = svc.pid is not None and pid_alive(svc.pid)
        rows.append(
            {
                "name": name,
                "pid": svc.pid,
                "port": svc.port,
                "alive": alive,
                "healthy": alive and svc.healthy(),
                "url": info.get("dsn") or info.get("url", ""),
            }
        )
    return rows


def up(settings: Settings, root: Path, timeout: float | None = None) -> tuple[dict[str, Any], float]:
    """Start the keeper detached and wait until services.json shows every service; (state, seconds)."""
    sset = ServiceSet(settings, root)
    state_path = sset.state_path
    old = read_state(state_path)
    if old is not None and pid_alive(int(old.get("keeper_pid", 0) or 0)):
        return old, 0.0
    if old is not None:  # a keeper died without cleaning up: stop whatever it left
        down(state_path)
    log_dir = _abs(settings.log_dir, root)
    log_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    with open(log_dir / "services.log", "ab") as logf:
        keeper = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "oms.services.keeper",
                "--keep",
                "--root",
                str(root),
            ],
            stdin=subprocess.PIPE,
            stdout=logf,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=str(root),
        )
    # settings through stdin, not argv: they may hold the OpenBao root token and argv is public (ps)
    assert keeper.stdin is not None
    keeper.stdin.write(json.dumps(_to_builtins(settings)).encode())
    keeper.stdin.close()

    def ready() -> dict[str, Any] | None:
        if keeper.poll() is not None:
            raise _KeeperDied(keeper.returncode)
        st = read_state(state_path)
        return st if st is not None and st.get("keeper_pid") == keeper.pid else None

    try:
        state = eventually(
            ready, timeout or settings.start_timeout_s + 30, max_interval=0.05, stop_on=(_KeeperDied,)
        )
    except (_KeeperDied, NotYet) as e:
        with contextlib.suppress(ProcessLookupError):
            os.kill(keeper.pid, signal.SIGTERM)
        tail = (log_dir / "services.log").read_text(errors="replace").splitlines()[-20:]
        raise ServiceError(
            f"services did not come up ({e}); {log_dir / 'services.log'}:\n" + log.scrub("\n".join(tail))
        ) from None
    return state, time.monotonic() - t0


def down(state_path: Path, timeout: float = 30.0) -> list[str]:
    """Stop the keeper (which stops its servers); then make sure every recorded pid and port is free."""
    state = read_state(state_path)
    if state is None:
        return []
    done = []
    kpid = int(state.get("keeper_pid", 0) or 0)
    if kpid and pid_alive(kpid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(kpid, signal.SIGTERM)
        try:
            eventually(lambda: not pid_alive(kpid), timeout, max_interval=0.05)
        except NotYet:
            os.kill(kpid, signal.SIGKILL)
        done.append(f"keeper {kpid} stopped")
    for name, svc in attach(state).items():
        if svc.pid is not None and pid_alive(svc.pid):  # keeper gone but server left: stop it ourselves
            svc.stop()
            done.append(f"{name} {svc.pid} stopped directly")
        ports = [p for p in svc._ports() if p]
        try:
            eventually(lambda ports=ports: all(port_free(p) for p in ports), 5.0)
        except NotYet:
            raise ServiceError(f"{name}: port(s) {ports} still busy after stop") from None
    with contextlib.suppress(FileNotFoundError):
        state_path.unlink()
    return done


class _KeeperDied(Exception):
    def __init__(self, code: int | None) -> None:
        super().__init__(f"keeper exited with code {code}")


def _to_builtins(settings: Settings) -> Any:
    import msgspec

    return msgspec.to_builtins(settings)


def keep(settings: Settings, root: Path) -> int:
    """The keeper: start the set, record it, wait for SIGTERM/SIGINT, stop the set, forget it."""
    log.setup(level="INFO")
    sset = ServiceSet(settings, root)
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT, signal.SIGHUP})
    times = sset.start()
    sset.write_state(os.getpid())
    _log.info("services up: %s", ", ".join(f"{k} {v * 1e3:.0f} ms" for k, v in times.items()))
    try:
        while True:
            info = signal.sigtimedwait({signal.SIGTERM, signal.SIGINT, signal.SIGHUP}, 1.0)
            if info is not None:
                _log.info("signal %d: stopping services", info.si_signo)
                break
            dead = [n for n, s in sset.services.items() if not s.running()]
            if dead:
                _log.error("service(s) exited unexpectedly: %s; stopping the rest", ", ".join(dead))
                break
    finally:
        sset.stop()
        with contextlib.suppress(FileNotFoundError):
            sset.state_path.unlink()
    return 0
