"""Security (services/bus rooms): attacks on the real nats-server of the stack, each denied.

The session nats-server (tests/conftest.py) runs with the users and subject permissions `oms up` gives
every program (oms/services/natsauth.py). Every attack is made over a real connection; "denied" is what
the server does (refused connect, permissions violation, message never delivered or stored).

Publishers connect only after the subscriber's subscription is flushed: nats-server 2.15 was seen to
drop the first message of a connection made *before* a matching subscription existed (~2% of runs,
without authentication too), which would make the positive checks flaky.
"""

from __future__ import annotations

import asyncio
import ssl
import stat
from pathlib import Path

import nats
import pytest
from nats.errors import NoRespondersError

from oms.services.nats import NatsServer
from oms.testing import eventually_async


async def _client(url: str, errors: list[Exception] | None = None) -> nats.NATS:
    async def on_error(e: Exception) -> None:
        if errors is not None:
            errors.append(e)

    return await nats.connect(url, allow_reconnect=False, connect_timeout=2, error_cb=on_error)


async def _refused(url: str) -> str:
    with pytest.raises(Exception) as ei:
        nc = await _client(url)
        await nc.close()
    return str(ei.value)


async def test_unauthenticated_and_wrong_password_connects_are_refused(nats_server: NatsServer) -> None:
    assert "Authorization Violation" in await _refused(nats_server.url)
    wrong = nats_server.url.replace("nats://", "nats://bridge:not-the-password@")
    assert "Authorization Violation" in await _refused(wrong)
    # a known user with another user's password is refused too
    stolen = nats_server.url.replace("nats://", f"nats://bridge:{nats_server.users.password('engine')}@")
    assert "Authorization Violation" in await _refused(stolen)


async def test_only_the_bridge_may_subscribe_to_commands(nats_server: NatsServer) -> None:
    errors: list[Exception] = []
    got: list[bytes] = []
    spy = await _client(nats_server.url_for("gateway"), errors)
    admin = None
    try:

        async def on_msg(m: nats.aio.msg.Msg) -> None:
            got.append(m.data)

        await spy.subscribe("cmd.>", cb=on_msg)
        await spy.flush()
        await eventually_async(lambda: any('subscription to "cmd.>"' in str(e) for e in errors), 5)
        admin = await _client(nats_server.admin_url)
        await admin.publish("cmd.desk.submit.binance.spot.BTCUSDT", b"{}")
        await admin.flush()
        await asyncio.sleep(0.2)
        assert got == []  # the denied subscription never receives an order
    finally:
        await spy.close()
        if admin is not None:
            await admin.close()


@pytest.mark.parametrize("user", ["engine", "gateway", "monitor", "recorder", "conn-binance", "intake-desk"])
async def test_publishing_commands_without_permission_is_denied(nats_server: NatsServer, user: str) -> None:
    nats_server.add_users(user)
    errors: list[Exception] = []
    got: list[str] = []
    bridge = await _client(nats_server.url_for("bridge"))
    attacker = None
    try:

        async def on_msg(m: nats.aio.msg.Msg) -> None:
            got.append(m.subject)

        await bridge.subscribe("cmd.>", cb=on_msg)
        await bridge.flush()
        attacker = await _client(nats_server.url_for(user), errors)
        # intake-desk may send only as itself (cmd.desk.>): posing as another sender is denied
        subject = "cmd.other.submit.binance.spot.BTCUSDT"
        await attacker.publish(subject, b'{"client_order_id": 1}')
        await attacker.flush()
        await eventually_async(lambda: any("permissions violation for publish" in str(e) for e in errors), 5)
        await asyncio.sleep(0.1)
        assert got == []
    finally:
        if attacker is not None:
            await attacker.close()
        await bridge.close()


async def test_an_intake_sender_reaches_the_bridge_only_under_its_own_name(nats_server: NatsServer) -> None:
    nats_server.add_users("intake-desk")
    got: list[str] = []
    bridge = await _client(nats_server.url_for("bridge"))
    sender = None
    try:

        async def on_msg(m: nats.aio.msg.Msg) -> None:
            got.append(m.subject)
            await m.respond(b'{"ok":true}')  # the bridge answers through allow_responses

        await bridge.subscribe("cmd.>", cb=on_msg)
        await bridge.flush()
        sender = await _client(nats_server.url_for("intake-desk"))
        r = await sender.request("cmd.desk.submit.binance.spot.BTCUSDT", b"{}", timeout=5)
        assert r.data == b'{"ok":true}' and got == ["cmd.desk.submit.binance.spot.BTCUSDT"]
    finally:
        if sender is not None:
            await sender.close()
        await bridge.close()


@pytest.mark.parametrize(
    ("user", "subject"),
    [
        ("engine", "orders.binance.spot.BTCUSDT"),
        ("gateway", "fills.binance.spot.BTCUSDT"),
        ("monitor", "orders.binance.spot.BTCUSDT"),
        ("recorder", "fills.binance.usdm.ETHUSDT"),
        ("conn-binance", "risk.all.all.ALL"),
        ("engine", "audit.gateway"),
        ("monitor", "audit.secrets"),
        ("bridge", "audit.gateway"),
        ("gateway", "audit.secrets"),  # an auditing program may not write as another origin
        ("recorder", "audit.gateway"),
    ],
)
async def test_forged_events_and_audit_records_are_denied(
    nats_server: NatsServer, user: str, subject: str
) -> None:
    nats_server.add_users(user)
    errors: list[Exception] = []
    got: list[str] = []
    watcher = await _client(nats_server.admin_url)
    forger = None
    try:

        async def on_msg(m: nats.aio.msg.Msg) -> None:
            got.append(m.subject)

        await watcher.subscribe(subject.split(".")[0] + ".>", cb=on_msg)
        await watcher.flush()
        forger = await _client(nats_server.url_for(user), errors)
        await forger.publish(subject, b"forged")
        await forger.flush()
        await eventually_async(lambda: any("permissions violation for publish" in str(e) for e in errors), 5)
        await asyncio.sleep(0.1)
        assert got == []
    finally:
        if forger is not None:
            await forger.close()
        await watcher.close()


async def test_the_right_programs_do_get_through(nats_server: NatsServer) -> None:
    """The other side of the table: what each program must do still works (a permission test that
    denies everything would pass the attacks above too)."""
    got: list[str] = []
    watcher = await _client(nats_server.admin_url)

    async def on_msg(m: nats.aio.msg.Msg) -> None:
        got.append(m.subject)

    for s in ("orders.>", "audit.>"):
        await watcher.subscribe(s, cb=on_msg)
    await watcher.flush()
    bridge = await _client(nats_server.url_for("bridge"))
    gateway = await _client(nats_server.url_for("gateway"))
    try:
        await bridge.publish("orders.binance.spot.BTCUSDT", b"x")
        await gateway.publish("audit.gateway", b"x")
        await bridge.flush()
        await gateway.flush()
        await eventually_async(lambda: sorted(got) == ["audit.gateway", "orders.binance.spot.BTCUSDT"], 5)
    finally:
        for c in (watcher, bridge, gateway):
            await c.close()


def test_config_and_user_table_are_private(nats_server: NatsServer) -> None:
    for p in (nats_server.config_path, nats_server.data_dir / "auth" / "users.json"):
        assert stat.S_IMODE(p.stat().st_mode) == 0o600, p
    assert stat.S_IMODE((nats_server.data_dir / "auth").stat().st_mode) == 0o700
    assert "password" not in nats_server.url and "@" not in nats_server.url  # safe for argv


async def test_order_intake_is_off_unless_configured(nats_server: NatsServer) -> None:
    from oms.bus.settings import Settings, validate

    assert Settings().intake is False
    assert any(k == "bus.intake" for k, _, _ in validate(Settings(intake=True)))  # on needs named senders
    nats_server.add_users("intake-desk")
    sender = await _client(nats_server.url_for("intake-desk"))
    try:  # nobody listens on cmd.> in a default stack: the request finds no responder
        with pytest.raises(NoRespondersError):
            await sender.request("cmd.desk.submit.binance.spot.BTCUSDT", b"{}", timeout=2)
    finally:
        await sender.close()


async def test_tls_listener_refuses_plaintext(tmp_path: Path) -> None:
    from oms.api import certs

    cp = certs.init(tmp_path / "certs")
    srv = NatsServer(
        tmp_path / "nats", tls_cert=str(cp.server_cert), tls_key=str(cp.server_key), sync_interval="2m"
    )
    srv.start()
    try:
        assert srv.url.startswith("tls://")
        ctx = ssl.create_default_context(cafile=str(cp.ca_cert))
        nc = await nats.connect(srv.admin_url, tls=ctx, allow_reconnect=False, connect_timeout=2)
        assert nc.is_connected
        await nc.close()
        plain = srv.admin_url.replace("tls://", "nats://")
        with pytest.raises(Exception):  # noqa: B017 - the server demands TLS before anything else
            c = await nats.connect(plain, allow_reconnect=False, connect_timeout=2)
            await c.close()
        untrusting = ssl.create_default_context()  # a client that does not trust our CA refuses it too
        with pytest.raises(Exception):  # noqa: B017
            c = await nats.connect(srv.admin_url, tls=untrusting, allow_reconnect=False, connect_timeout=2)
            await c.close()
    finally:
        srv.stop()
