"""Durable by default (#23): what `oms up` runs keeps every acknowledged write across a crash.

- PostgreSQL: synchronous_commit is on always (a commit returns once its WAL is flushed) and fsync is on
  unless a throwaway run opts out explicitly (`[services.postgres] fsync = false`, as the test fixtures do);
- JetStream: the sync policy is stated, "always" by default (every write fsynced before its ack);
- the recorder acks a JetStream message only after PostgreSQL committed it (oms/store/recorder.py), so a
  durable commit stands behind every ack.
"""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

from oms.cli import stack
from oms.services.nats import NatsServer
from oms.services.postgres import PostgresServer
from oms.services.settings import Settings as ServicesSettings

ROOT = Path(__file__).resolve().parents[3]


def test_shipped_defaults_are_durable() -> None:
    from oms.config import load

    for s in (ServicesSettings(), load(str(ROOT / "configs" / "oms.toml")).section("services")):
        assert s.postgres.fsync is True and s.nats.sync_interval == "always"


def test_oms_up_renders_durable_servers(tmp_path: Path) -> None:
    class Cfg:
        def section(self, name: str) -> object:
            from oms.bus.settings import Settings as BusSettings

            return ServicesSettings(start=["nats", "postgres"]) if name == "services" else BusSettings()

    progs, objs = stack._service_programs(stack.StackPaths(tmp_path), Cfg(), ["recorder"])
    try:
        pg = next(p for p in progs if p.name == "postgres")
        assert "fsync=on" in pg.command and "synchronous_commit=on" in pg.command
        assert "full_page_writes=on" in pg.command
        assert "sync_interval: always" in objs["nats"].config_path.read_text()
    finally:
        objs["postgres"]._after_stop()  # never started: remove its (possibly relocated) cluster


def test_a_throwaway_server_still_commits_synchronously(postgres_server: PostgresServer) -> None:
    with postgres_server.connect() as c:  # the session fixture opted out of fsync, explicitly
        assert c.execute("show fsync").fetchone() == ("off",)
        assert c.execute("show synchronous_commit").fetchone() == ("on",)


def test_jetstream_states_its_sync_policy(tmp_path: Path) -> None:
    srv = NatsServer(tmp_path / "nats")
    srv.start()
    try:
        with urllib.request.urlopen(srv.monitor_url + "/varz", timeout=5) as r:
            cfg = json.loads(r.read())["jetstream"]["config"]
        assert cfg["sync_always"] is True
    finally:
        srv.stop()
