"""Services room: the common life cycle of a local server process (spawn, wait until it answers, stop).

Touches only processes it spawned itself (or, for `oms services down`, the pids it recorded in
var/run/services.json), files under the service's data dir, and loopback sockets.

Every server runs in the foreground as a direct child (never daemonized), in its own session, with a
parent-death signal so a crashed owner does not leave it behind. `stop()` signals it, waits for it
(reaping it), kills any child it left, and checks the port is free again. Readiness is a real request
against the server (HTTP health, a SQL connect, a PING), polled with `oms.testing.eventually`.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any, ClassVar

import psutil

from oms import log
from oms.errors import OmsError
from oms.services.ports import HOST, free_port, listening, port_free
from oms.testing import NotYet, eventually

_log = log.get(__name__)
_PR_SET_PDEATHSIG = 1
try:
    _libc: ctypes.CDLL | None = ctypes.CDLL(None, use_errno=True)
except OSError:  # pragma: no cover - non-glibc
    _libc = None


class ServiceError(OmsError):
    """A local server could not be started or stopped; the message carries the tail of its log."""


def pid_alive(pid: int) -> bool:
    """True when `pid` runs and is not a zombie (PID 1 here reaps orphans lazily)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("State:"):
                    return "Z" not in line.split()[1]
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return False
    return False


def _death_signal(sig: int) -> Any:
    def _pre() -> None:  # runs in the child after fork (and after setuid), before exec
        signal.pthread_sigmask(signal.SIG_SETMASK, set())  # a blocked mask would be inherited by exec
        if _libc is not None:
            _libc.prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0)

    return _pre


class Service:
    """Base of NatsServer, PostgresServer, RedisServer and OpenBaoServer (one level of inheritance).

    Subclasses give `name`, `_argv()`, `healthy()`, and may override `_prepare()` (runs before each
    spawn), `_env()`, `_user()` and `info()`.
    """

    name: ClassVar[str] = "service"
    stop_signal: ClassVar[int] = signal.SIGTERM
    # data dir made 0700 (PostgreSQL's differs: its server user must traverse it, or it is relocated)
    private_dir: ClassVar[bool] = True

    def __init__(self, data_dir: str | os.PathLike[str], port: int = 0) -> None:
        self.data_dir = Path(data_dir).absolute()
        self.port = int(port)
        self._auto_port = self.port == 0
        self.proc: subprocess.Popen[bytes] | None = None
        self.pid: int | None = None
        self.started_s: float | None = None  # seconds from spawn until healthy, last start

    # --- what subclasses fill in -------------------------------------------------------------
    def _argv(self) -> list[str]:
        raise NotImplementedError

    def healthy(self) -> bool:
        raise NotImplementedError

    def _prepare(self) -> None:
        """Create dirs/config before a spawn; pick auto ports here."""

    def _pick_ports(self) -> None:
        if self._auto_port:
            self.port = free_port()

    def _env(self) -> dict[str, str]:
        return {"PATH": "/usr/local/bin:/usr/bin:/bin", "LC_ALL": "C.UTF-8", "HOME": str(self.data_dir)}

    def _user(self) -> dict[str, Any]:
        return {}

    def _ports(self) -> list[int]:
        return [self.port]

    @property
    def log_path(self) -> Path:
        return self.data_dir / f"{self.name}.log"

    def info(self) -> dict[str, Any]:
        return {"name": self.name, "pid": self.pid, "port": self.port, "data_dir": str(self.data_dir)}

    # --- life cycle ---------------------------------------------------------------------------
    def start(self, timeout: float = 60.0) -> Service:
        """Spawn and wait until the server really answers; retry with fresh ports on a lost race."""
        for attempt in range(4):
            self.spawn()
            try:
                self.wait_ready(timeout)
                return self
            except ServiceError as e:
                if not self._auto_port or attempt == 3 or not self._lost_port_race():
                    raise
                _log.info("%s: port taken before bind (%s), retrying with a new port", self.name, e)
        raise AssertionError("unreachable")

    def _lost_port_race(self) -> bool:
        tail = self.log_tail().lower()
        return "address already in use" in tail or "could not bind" in tail or "bind:" in tail

    def spawn(self) -> None:
        """Start the process without waiting (ServiceSet spawns all, then waits for all)."""
        if self.proc is not None and self.proc.poll() is None:
            raise ServiceError(f"{self.name} already running (pid {self.proc.pid})")
        self.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700 if self.private_dir else 0o777)
        self._pick_ports()
        self._prepare()
        argv = self._argv()
        # the log is 0600 from its creation: OpenBao's dev server prints its root token into it
        fd = os.open(self.log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        with os.fdopen(fd, "ab") as logf:
            logf.write(f"--- {time.strftime('%Y-%m-%dT%H:%M:%S')} start: {' '.join(argv)}\n".encode())
            logf.flush()
            self._t0 = time.monotonic()
            self.proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=logf,
                stderr=subprocess.STDOUT,
                env=self._env(),
                cwd=str(self.data_dir),
                start_new_session=True,
                preexec_fn=_death_signal(self.stop_signal),
                **self._user(),
            )
        self.pid = self.proc.pid
        _log.debug("%s: spawned pid %d on port %d", self.name, self.pid, self.port)

    def wait_ready(self, timeout: float = 60.0) -> None:
        proc = self.proc
        assert proc is not None, "spawn() first"

        def ready() -> bool:
            if proc.poll() is not None:
                raise _Exited(proc.returncode)
            # healthy() may be answered by someone else's server that holds the port: require that
            # the listening socket belongs to our process too
            return self.healthy() and self._owns_port(proc.pid)

        try:
            eventually(ready, timeout, interval=0.005, max_interval=0.05, stop_on=(_Exited,))
        except _Exited as e:
            proc.wait()
            raise ServiceError(
                f"{self.name} exited with code {e.code} before answering; log {self.log_path}:\n"
                + self.log_tail()
            ) from None
        except NotYet:
            self.stop()
            raise ServiceError(
                f"{self.name} did not answer within {timeout:.0f}s on port {self.port}; "
                f"log {self.log_path}:\n{self.log_tail()}"
            ) from None
        self.started_s = time.monotonic() - self._t0
        _log.info(
            "%s ready on %s:%d in %.0f ms (pid %d)",
            self.name,
            HOST,
            self.port,
            self.started_s * 1e3,
            proc.pid,
        )

    def _owns_port(self, pid: int) -> bool:
        try:
            conns = psutil.Process(pid).net_connections(kind="tcp")
        except psutil.Error:
            return False
        return any(c.status == psutil.CONN_LISTEN and c.laddr and c.laddr.port == self.port for c in conns)

    def running(self) -> bool:
        if self.proc is not None:
            return self.proc.poll() is None
        return self.pid is not None and pid_alive(self.pid)

    def stop(self, timeout: float = 15.0) -> None:
        """Stop the server and every child it has; wait until it is gone and its ports are free."""
        pid = self.proc.pid if self.proc is not None else self.pid
        if pid is None:
            return
        try:
            children = psutil.Process(pid).children(recursive=True)
        except psutil.Error:
            children = []
        self._signal(pid, self.stop_signal)
        if not self._wait_gone(pid, timeout):
            _log.warning(
                "%s (pid %d) ignored %s for %.0fs; killing",
                self.name,
                pid,
                signal.Signals(self.stop_signal).name,
                timeout,
            )
            self._signal(pid, signal.SIGKILL)
            self._wait_gone(pid, 5.0)
        for child in children:
            with contextlib.suppress(psutil.Error):
                if child.is_running() and child.status() != psutil.STATUS_ZOMBIE:
                    child.kill()
        self.proc = None
        self.pid = None
        ports = [p for p in self._ports() if p]
        try:
            eventually(lambda: all(port_free(p) for p in ports), 5.0)
        except NotYet:
            _log.warning("%s stopped but port(s) %s still busy", self.name, ports)
        self._after_stop()

    def _after_stop(self) -> None:
        """Clean-up after the process is gone (e.g. a relocated data dir)."""

    def _signal(self, pid: int, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)

    def _wait_gone(self, pid: int, timeout: float) -> bool:
        proc = self.proc
        if proc is not None and proc.pid == pid:
            try:
                proc.wait(timeout)
                return True
            except subprocess.TimeoutExpired:
                return False
        try:
            eventually(lambda: not pid_alive(pid), timeout, max_interval=0.05)
            return True
        except NotYet:
            return False

    def log_tail(self, lines: int = 15) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return "(no log)"
        return log.scrub("\n".join(text.splitlines()[-lines:]))

    def listening(self) -> bool:
        return listening(self.port)

    def __enter__(self) -> Service:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(port={self.port}, pid={self.pid}, data_dir={str(self.data_dir)!r})"


class _Exited(Exception):
    def __init__(self, code: int | None) -> None:
        super().__init__(f"exited with {code}")
        self.code = code
