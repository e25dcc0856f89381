"""The CLI verbs against a running gateway (in-process `oms` main, real TLS), and the IP allowlist
seen over IPv6 loopback: a ::1-only token is allowed from ::1, a 127.0.0.1-only token is refused."""

from __future__ import annotations

import json
from collections.abc import Iterator

import grpc
import pytest

from oms.api.gen.oms.v1 import gateway_pb2 as gw
from oms.api.tokens import TokenStore
from oms.cli import main as oms_main
from oms.client import channel_options, credentials
from tests.integration.gateway.conftest import Stack, close_stack, make_stack
from tests.integration.gateway.helpers import md, status_of, stubs


def cli(st: Stack, who: str, *args: str) -> list[str]:
    return [*args, "--target", st.target, "--token", st.tokens[who], "--ca", str(st.certs.ca_cert)]


def test_order_submit_list_cancel_positions_events(
    fake_stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    # FAKE engine: the OrderCanceled this checks comes from a venue; the fake engine answers it itself
    stack = fake_stack
    rc = oms_main(
        cli(
            stack,
            "trader",
            "order",
            "submit",
            "--account",
            "1",
            "--venue",
            "binance",
            "--symbol",
            "ETH/USDT",
            "--side",
            "buy",
            "--qty",
            "0.01",
            "--price",
            "3000.5",
        )
    )
    ack = json.loads(capsys.readouterr().out)
    assert rc == 0 and ack["kind"] == "EVENT_KIND_ORDER_ACCEPTED"
    coid = ack["client_order_id"]
    assert oms_main(cli(stack, "viewer", "order", "list", "--account", "1", "--open", "--json")) == 0
    listed = json.loads(capsys.readouterr().out)
    assert any(o["client_order_id"] == coid and o["price"] == "3000.5" for o in listed)
    assert oms_main(cli(stack, "trader", "order", "cancel", "--account", "1", coid)) == 0
    assert json.loads(capsys.readouterr().out)["kind"] == "EVENT_KIND_ORDER_CANCELED"
    assert oms_main(cli(stack, "viewer", "positions", "--account", "1", "--json")) == 0
    assert "positions" in json.loads(capsys.readouterr().out)
    assert oms_main(cli(stack, "viewer", "events", "--account", "1", "--seconds", "0.3")) == 0
    # a user mistake is one clear line and exit code 2, not a traceback
    rc = oms_main(
        cli(
            stack,
            "trader",
            "order",
            "submit",
            "--account",
            "1",
            "--venue",
            "binance",
            "--symbol",
            "ETH/USDT",
            "--side",
            "buy",
            "--qty",
            "0.011111111",
            "--price",
            "3000",
        )
    )
    err = capsys.readouterr().err
    assert rc == 2 and "INVALID_ARGUMENT: quantity:" in err and "Traceback" not in err
    rc = oms_main(
        cli(
            stack,
            "viewer",
            "order",
            "submit",
            "--account",
            "1",
            "--venue",
            "binance",
            "--symbol",
            "ETH/USDT",
            "--side",
            "buy",
            "--qty",
            "0.01",
            "--price",
            "3000",
        )
    )
    assert rc == 2 and "PERMISSION_DENIED" in capsys.readouterr().err


@pytest.fixture(scope="module")
def v6(tmp_path_factory: pytest.TempPathFactory, dev_certs) -> Iterator[Stack]:  # type: ignore[no-untyped-def]
    st = make_stack(tmp_path_factory.mktemp("v6"), dev_certs, host="::1")
    yield st
    close_stack(st)


def test_ipv6_allowlist(v6: Stack) -> None:
    store = TokenStore(v6.settings.tokens_file)
    _, only6 = store.add("only6", ["viewer"], [1], ["::1/128"])
    _, only4 = store.add("only4", ["viewer"], [1], ["127.0.0.1/32"])
    ch = grpc.secure_channel(f"[::1]:{v6.gw.port}", credentials(v6.certs.ca_cert), options=channel_options())
    try:
        g, _ = stubs(ch)
        code, msg, _ = status_of(g.ListOrders, gw.ListOrdersRequest(account=1), md(only6))
        assert code == grpc.StatusCode.OK, msg
        code, msg, _ = status_of(g.ListOrders, gw.ListOrdersRequest(account=1), md(only4))
        assert code == grpc.StatusCode.PERMISSION_DENIED and "::1 is not in token" in msg
    finally:
        ch.close()
