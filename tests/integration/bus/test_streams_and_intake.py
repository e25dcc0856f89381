"""Streams created/updated idempotently; cross-host intake over NATS into the command ring; the bridge
program end to end (events ring → JetStream, cmd.submit → command ring) as a real subprocess."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import msgspec
import nats
import pytest

from oms.bus import frames as F
from oms.bus.bridge import connect_nats
from oms.bus.intake import SOURCE_BRIDGE, CommandIntake, Reply
from oms.bus.settings import IntakeSender, StreamLimits
from oms.bus.streams import ensure_streams
from oms.cli import main as oms_main
from oms.errors import ConfigError
from oms.services.nats import NatsServer
from oms.shm import names
from oms.shm import records as R
from oms.shm.ring import Ring
from oms.testing import eventually_async
from tests.integration.bus.conftest import bus_settings, make_events, write_toml

_reply = msgspec.json.Decoder(Reply)


async def test_streams_are_created_then_left_alone_then_updated(nats_js: NatsServer, tmp_path) -> None:
    bus = bus_settings(nats_js.admin_url, tmp_path)
    nc = await connect_nats(nats_js.admin_url, "t")
    js = nc.jetstream()
    try:
        first = await ensure_streams(js, bus)
        assert {r.action for r in first} == {"created"}
        assert "ORDERS_BINANCE" in {r.name for r in first} and "AUDIT" in {r.name for r in first}
        assert {r.action for r in await ensure_streams(js, bus)} == {"unchanged"}
        info = await js.stream_info("FILLS_BINANCE")
        assert info.config.subjects == ["fills.binance.>"] and info.config.duplicate_window == 120.0
        longer = dict(bus.streams, fills=msgspec.structs.replace(bus.streams["fills"], max_age_s=7200.0))
        res = await ensure_streams(js, msgspec.structs.replace(bus, streams=longer))
        assert [r.name for r in res if r.action == "updated"] == ["FILLS_BINANCE", "FILLS_ALL"]
        assert (await js.stream_info("FILLS_BINANCE")).config.max_age == 7200.0
        mem = dict(bus.streams, orders=StreamLimits(storage="memory", max_bytes=1024**2))
        with pytest.raises(ConfigError, match="stream ORDERS_BINANCE: storage"):
            await ensure_streams(js, msgspec.structs.replace(bus, streams=mem))
    finally:
        await nc.close()


async def test_default_settings_fit_a_default_local_server(nats_js: NatsServer) -> None:
    """The shipped [bus] defaults must start on the local nats-server (1 GB JetStream file store)."""
    from oms.bus.settings import Settings

    nc = await connect_nats(nats_js.admin_url, "t")
    try:
        res = await ensure_streams(nc.jetstream(), Settings(nats_url=nats_js.admin_url))
        assert len(res) == 22 and {r.action for r in res} == {"created"}  # 4 × 5 kinds + AUDIT + AUDIT_HEAD
    finally:
        await nc.close()


async def test_intake_request_reply_into_the_command_ring(nats_js: NatsServer, prefix: str) -> None:
    ring = Ring.create(names.bridge_commands(prefix), R.COMMAND, 1024)
    intake = CommandIntake(ring, senders={"desk": IntakeSender(accounts=[3], rate_per_s=1000, burst=1000)})
    nc = client = None
    try:
        nc = await connect_nats(nats_js.admin_url, "bridge")
        client = await nats.connect(nats_js.admin_url)

        async def on_cmd(msg: nats.aio.msg.Msg) -> None:
            await msg.respond(intake.handle(msg.subject, msg.data))

        await nc.subscribe("cmd.>", queue="oms-bridge", cb=on_cmd)
        await nc.flush()  # the server knows the subscription before the first request
        order = {"client_order_id": 42, "account": 3, "instrument": 7, "side": "buy", "price": 5000, "qty": 3,
                 "seq": 9}  # fmt: skip
        r = await client.request(
            "cmd.desk.submit.binance.spot.BTCUSDT", msgspec.json.encode(order), timeout=5
        )
        rep = _reply.decode(r.data)
        assert rep.ok and rep.accepted == 1 and rep.seq[0] > 9  # the bridge assigns seq, not the sender
        out = R.new(R.COMMAND, 4)
        assert ring.consume(out) == 1
        c = out[0]
        assert int(c["seq"]) == rep.seq[0]
        assert (c["kind"], c["venue"], c["market"], c["client_order_id"]) == (R.SUBMIT_ORDER, 1, 1, 42)
        assert (c["side"], c["price"], c["qty"], c["source"]) == (R.SIDE_BUY, 5000, 3, SOURCE_BRIDGE)
        assert c["ts_ns"] > 0
        # a batch as an OMSF frame of COMMAND records
        cmds = R.new(R.COMMAND, 2)
        cmds["kind"], cmds["venue"], cmds["market"], cmds["client_order_id"] = R.CANCEL_ORDER, 1, 2, [5, 6]
        cmds["seq"], cmds["account"] = [1, 2], 3
        r = await client.request("cmd.desk.cancel.binance.usdm.ETHUSDT", F.encode(cmds), timeout=5)
        assert _reply.decode(r.data).accepted == 2
        assert ring.consume(out) == 2
        # bad input: each answered with what was wrong, nothing reaches the engine
        base = b'"client_order_id": 1, "account": 3, "instrument": 7'
        bad = {
            "cmd.desk.submit.binance.spot.BTCUSDT": (b"{" + base + b', "side": "up"}', "side"),
            "cmd.desk.submit.binance.spot.btc": (b"{}", "symbol 'btc'"),
            "cmd.desk.submit.binance.spot.ETHUSDT": (b"{" + base + b', "side": "sell"}', "qty 0"),
            "cmd.desk.modify.binance.spot.ETHUSDT": (b'{"client_order_id": 1, "colour": 3}', "unknown field"),
            "cmd.desk.cancel.binance.spot.ETHUSDT": (b"not json", "not valid JSON"),
            "cmd.desk.cancel.binance.usdm.BTCUSDT": (F.encode(R.new(R.EVENT, 1)), "carries EVENT records"),
        }  # fmt: skip
        for subject, (payload, needle) in bad.items():
            rep = _reply.decode((await client.request(subject, payload, timeout=5)).data)
            assert not rep.ok and rep.code == "rejected" and needle in rep.error, (subject, rep)
        assert ring.consume(out) == 0
        # a full ring is a transient error (retry), never a silent drop
        filler = R.new(R.COMMAND, 1024)
        assert ring.publish_batch(filler) == 1024
        r = await client.request(
            "cmd.desk.submit.binance.spot.BTCUSDT", msgspec.json.encode(order), timeout=5
        )
        rep = _reply.decode(r.data)
        assert not rep.ok and rep.code == "transient" and "full" in rep.error
    finally:
        for conn in (client, nc):
            if conn is not None:
                await conn.close()
        ring.unlink()
        ring.close()


async def test_bridge_program_end_to_end(nats_js: NatsServer, prefix: str, tmp_path) -> None:
    bus = bus_settings(
        nats_js.admin_url, tmp_path, intake=True, intake_senders={"desk": IntakeSender(accounts=[3])}
    )
    config = write_toml(tmp_path / "oms.toml", bus)
    events = Ring.create(names.engine_events_to_bridge(prefix), R.EVENT, 1 << 14)
    cmds = Ring.create(names.bridge_commands(prefix), R.COMMAND, 1024)
    argv = [sys.executable, "-m", "oms.procs.bridge", "--config", config, "--prefix", prefix]
    proc = subprocess.Popen(argv, env={**os.environ, "PYTHONPATH": os.getcwd()}, stderr=subprocess.PIPE)
    nc = None
    try:
        nc = await nats.connect(nats_js.admin_url)
        js = nc.jetstream()
        assert events.publish_batch(make_events(0, 5000)) == 5000

        async def stored() -> int:
            try:
                a = (await js.stream_info("ORDERS_BINANCE")).state
                b = (await js.stream_info("FILLS_BINANCE")).state
            except Exception:
                return 0
            return a.messages + b.messages

        await eventually_async(stored, 30)
        await eventually_async(lambda: events.depth() == 0, 30)  # released only after JetStream acked
        sub = await js.pull_subscribe("orders.binance.>", durable="check")
        seen = 0
        while seen < 3750:
            for m in await sub.fetch(16, timeout=5):
                h, recs = F.decode(m.data)
                assert m.subject == "orders.binance.spot.I7" and h.count == len(recs)
                assert m.headers and m.headers["Nats-Msg-Id"] == F.msg_id(m.subject, h)
                seen += h.count
                await m.ack()
        assert seen == 3750
        order = {"client_order_id": 7, "account": 3, "instrument": 7, "side": "sell", "price": 1, "qty": 1}
        r = await nc.request("cmd.desk.submit.binance.spot.BTCUSDT", msgspec.json.encode(order), timeout=10)
        rep = _reply.decode(r.data)
        assert rep.ok  # the program subscribes before it starts moving events
        out = R.new(R.COMMAND, 2)
        assert cmds.consume(out) == 1 and int(out[0]["seq"]) == rep.seq[0]
    finally:
        if nc is not None:
            await nc.close()
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        for rg in (events, cmds):
            rg.unlink()
            rg.close()
    assert proc.returncode == 0, proc.stderr.read().decode()[-2000:] if proc.stderr else ""


def test_db_migrate_cli_is_idempotent(pg_dsn: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert oms_main(["db", "migrate", "--dsn", pg_dsn]) == 0
    assert "schema is up to date" in capsys.readouterr().out
    assert oms_main(["db", "status", "--dsn", pg_dsn]) == 0
    assert "0002_audit" in capsys.readouterr().out
    assert oms_main(["db", "status", "--dsn", "host=127.0.0.1 port=1 user=x connect_timeout=1"]) == 2
