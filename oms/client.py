"""Client room (gateway's Python client): talk to the OMS gateway over gRPC with TLS 1.3.

Touches only the network connection it opens. `Client` is synchronous (CLI, scripts); `aio_channel()`
gives an asyncio channel for the generated stubs (benchmarks, async apps). Credentials: the API token
(`authorization: Bearer ...`), the CA that signed the gateway's certificate, optionally a client
certificate (mTLS) and, for admin methods, a TOTP secret from which the current code is computed (or a
code given directly). Errors come back as `ClientError` with the gRPC status name and the server's text.

    with Client("127.0.0.1:50051", token=..., ca="var/certs/ca.crt") as c:
        ack = c.submit(account=1, venue="binance", symbol="BTC/USDT", side="buy", quantity="0.01",
                       price="50000", order_type="limit")
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pyotp

from oms.api.gen.oms.v1 import gateway_pb2 as gw
from oms.api.gen.oms.v1 import gateway_pb2_grpc as gw_grpc
from oms.api.gen.oms.v1 import types_pb2 as pb
from oms.api.status import retry_after_of
from oms.errors import OmsError, Rejected

SIDES = {"buy": pb.SIDE_BUY, "sell": pb.SIDE_SELL}
TYPES = {n.removeprefix("ORDER_TYPE_").lower(): v for n, v in pb.OrderType.items() if v}
TIFS = {n.removeprefix("TIME_IN_FORCE_").lower(): v for n, v in pb.TimeInForce.items() if v}
STATES = {n.removeprefix("TRADING_STATE_").lower(): v for n, v in pb.TradingState.items() if v}
MARGIN_MODES = {n.removeprefix("MARGIN_MODE_").lower(): v for n, v in pb.MarginMode.items() if v}


class ClientError(OmsError):
    def __init__(self, status: grpc.StatusCode, details: str, retry_after: float | None = None) -> None:
        super().__init__(f"{status.name}: {details}", code=status.name)
        self.status = status
        self.details = details
        self.retry_after = retry_after


def credentials(
    ca: str | os.PathLike[str] | None,
    cert: str | os.PathLike[str] | None = None,
    key: str | os.PathLike[str] | None = None,
) -> grpc.ChannelCredentials:
    def read(p: Any, what: str) -> bytes | None:
        if p is None:
            return None
        try:
            return Path(p).read_bytes()
        except OSError as e:
            raise Rejected(f"{what} {p}: {e.strerror}; run `oms certs init` or pass the right path") from None

    return grpc.ssl_channel_credentials(
        read(ca, "CA file"), read(key, "client key"), read(cert, "client cert")
    )


def channel_options() -> list[tuple[str, Any]]:
    # the dev certificate is issued for localhost; connecting by IP still verifies against that name
    return [("grpc.ssl_target_name_override", "localhost"), ("grpc.default_authority", "localhost")]


def aio_channel(target: str, ca: Any, cert: Any = None, key: Any = None) -> grpc.aio.Channel:
    return grpc.aio.secure_channel(target, credentials(ca, cert, key), options=channel_options())


def metadata(token: str, totp: str | None = None) -> tuple[tuple[str, str], ...]:
    md: tuple[tuple[str, str], ...] = (("authorization", f"Bearer {token}"),)
    return (*md, ("x-oms-totp", totp)) if totp else md


def _err(e: grpc.RpcError) -> ClientError:
    return ClientError(e.code(), e.details() or "", retry_after_of(e.trailing_metadata()))


def order_request(
    account: int,
    venue: str,
    symbol: str,
    side: str,
    quantity: str,
    *,
    price: str = "",
    order_type: str = "limit",
    tif: str = "",
    market: str = "",
    trigger_price: str = "",
    reduce_only: bool = False,
    post_only: bool = False,
    client_order_id: int = 0,
    trailing_offset: str = "",
    wait_for_venue: bool = False,
    venue_wait_ms: int = 0,
) -> pb.SubmitOrder:
    try:
        s, t = SIDES[side.lower()], TYPES[order_type.lower()]
        f = TIFS[tif.lower()] if tif else pb.TIME_IN_FORCE_UNSPECIFIED
    except KeyError as e:
        raise Rejected(
            f"{e.args[0]!r} invalid: side is buy|sell, type one of {', '.join(TYPES)}, "
            f"tif one of {', '.join(TIFS)}"
        ) from None
    return pb.SubmitOrder(
        account=account,
        venue=venue,
        market=market,
        symbol=symbol,
        side=s,
        order_type=t,
        time_in_force=f,
        price=price,
        quantity=quantity,
        trigger_price=trigger_price,
        reduce_only=reduce_only,
        post_only=post_only,
        client_order_id=client_order_id,
        trailing_offset=trailing_offset,
        wait_for_venue=wait_for_venue,
        venue_wait_ms=venue_wait_ms,
    )


class Client:
    def __init__(
        self,
        target: str,
        *,
        token: str,
        ca: Any,
        cert: Any = None,
        key: Any = None,
        totp_secret: str | None = None,
        totp: str | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.channel = grpc.secure_channel(target, credentials(ca, cert, key), options=channel_options())
        self.stub = gw_grpc.GatewayStub(self.channel)
        self.admin = gw_grpc.AdminStub(self.channel)
        self.token = token
        self.totp_secret = totp_secret
        self.totp = totp
        self.timeout = timeout

    def _md(self, admin: bool = False) -> tuple[tuple[str, str], ...]:
        code = None
        if admin:
            code = self.totp or (pyotp.TOTP(self.totp_secret).now() if self.totp_secret else None)
        return metadata(self.token, code)

    def _call(self, fn: Any, req: Any, admin: bool = False) -> Any:
        try:
            return fn(req, metadata=self._md(admin), timeout=self.timeout)
        except grpc.RpcError as e:
            raise _err(e) from None

    # ---- trading -------------------------------------------------------------------------------
    def submit(self, **kw: Any) -> pb.OrderAck:
        return self._call(self.stub.SubmitOrder, order_request(**kw))

    def cancel(self, account: int, client_order_id: int, venue: str = "", symbol: str = "") -> pb.OrderAck:
        return self._call(
            self.stub.CancelOrder,
            pb.CancelOrder(account=account, client_order_id=client_order_id, venue=venue, symbol=symbol),
        )

    def modify(
        self, account: int, client_order_id: int, venue: str, symbol: str, price: str = "", quantity: str = ""
    ) -> pb.OrderAck:
        return self._call(
            self.stub.ModifyOrder,
            pb.ModifyOrder(
                account=account,
                client_order_id=client_order_id,
                venue=venue,
                symbol=symbol,
                price=price,
                quantity=quantity,
            ),
        )

    def cancel_all(self, account: int, venue: str = "", symbol: str = "") -> pb.OrderAck:
        return self._call(self.stub.CancelAll, pb.CancelAll(account=account, venue=venue, symbol=symbol))

    def submit_batch(self, orders: list[pb.SubmitOrder]) -> pb.BatchAck:
        return self._call(self.stub.SubmitBatch, pb.SubmitBatch(orders=orders))

    def submit_oco(self, first: pb.SubmitOrder, second: pb.SubmitOrder) -> pb.ContingentAck:
        """Two orders, one cancels the other (build each with `order_request`)."""
        return self._call(self.stub.SubmitOco, pb.SubmitOco(first=first, second=second))

    def submit_bracket(
        self,
        entry: pb.SubmitOrder,
        stop_loss: pb.SubmitOrder | None = None,
        take_profit: pb.SubmitOrder | None = None,
    ) -> pb.ContingentAck:
        """Entry plus exits sized to its fills (exits may leave account/symbol/quantity empty)."""
        req = pb.SubmitBracket(entry=entry)
        if stop_loss is not None:
            req.stop_loss.CopyFrom(stop_loss)
        if take_profit is not None:
            req.take_profit.CopyFrom(take_profit)
        return self._call(self.stub.SubmitBracket, req)

    # ---- queries -------------------------------------------------------------------------------
    def get_order(self, account: int, client_order_id: int) -> pb.Order:
        return self._call(
            self.stub.GetOrder, gw.GetOrderRequest(account=account, client_order_id=client_order_id)
        )

    def list_orders(
        self, account: int, *, venue: str = "", symbol: str = "", open_only: bool = False, limit: int = 0
    ) -> list[pb.Order]:
        return list(
            self._call(
                self.stub.ListOrders,
                gw.ListOrdersRequest(
                    account=account, venue=venue, symbol=symbol, open_only=open_only, limit=limit
                ),
            ).orders
        )

    def positions(self, account: int, venue: str = "") -> list[pb.Position]:
        return list(
            self._call(self.stub.GetPositions, gw.GetPositionsRequest(account=account, venue=venue)).positions
        )

    def balances(self, account: int, venue: str = "") -> list[pb.Balance]:
        return list(
            self._call(self.stub.GetBalances, gw.GetBalancesRequest(account=account, venue=venue)).balances
        )

    def events(
        self,
        accounts: list[int] | None = None,
        venue: str = "",
        symbol: str = "",
        timeout: float | None = None,
    ) -> Iterator[pb.OrderEvent]:
        req = gw.StreamEventsRequest(accounts=accounts or [], venue=venue, symbol=symbol)
        call = self.stub.StreamEvents(req, metadata=self._md(), timeout=timeout)
        try:
            yield from call
        except grpc.RpcError as e:
            if e.code() == grpc.StatusCode.DEADLINE_EXCEEDED and timeout is not None:
                return
            raise _err(e) from None
        finally:
            call.cancel()

    def bbo(self, venue: str, symbol: str, market: str = "") -> gw.Bbo:
        return self._call(self.stub.GetBbo, gw.GetBboRequest(venue=venue, market=market, symbol=symbol))

    # ---- admin ---------------------------------------------------------------------------------
    def set_trading_state(self, state: str, account: int = 0, reason: str = "") -> gw.AdminAck:
        try:
            st = STATES[state.lower()]
        except KeyError:
            raise Rejected(f"state {state!r} invalid: use one of {', '.join(STATES)}") from None
        return self._call(
            self.admin.SetTradingState,
            gw.SetTradingState(state=st, account=account, reason=reason),
            admin=True,
        )

    def set_risk_limits(self, limits: list[gw.RiskLimit]) -> gw.AdminAck:
        return self._call(self.admin.SetRiskLimits, gw.SetRiskLimits(limits=limits), admin=True)

    def set_leverage(
        self, account: int, venue: str, symbol: str, leverage: int, *, market: str = "", reason: str = ""
    ) -> gw.FuturesSettingAck:
        """Set a futures instrument's leverage at the venue; returns the venue's settings read back."""
        req = gw.SetLeverage(
            account=account, venue=venue, market=market, symbol=symbol, leverage=leverage, reason=reason
        )
        return self._call(self.admin.SetLeverage, req, admin=True)

    def set_margin_mode(
        self, account: int, venue: str, symbol: str, mode: str, *, market: str = "", reason: str = ""
    ) -> gw.FuturesSettingAck:
        """Set a futures instrument's margin mode ("cross" or "isolated") at the venue."""
        try:
            m = MARGIN_MODES[mode.lower()]
        except KeyError:
            raise Rejected(f"margin mode {mode!r} invalid: use one of {', '.join(MARGIN_MODES)}") from None
        req = gw.SetMarginMode(
            account=account, venue=venue, market=market, symbol=symbol, margin_mode=m, reason=reason
        )
        return self._call(self.admin.SetMarginMode, req, admin=True)

    def rotate_token(self, token_id: str, grace_seconds: int = 0) -> gw.RotateKeysResponse:
        return self._call(
            self.admin.RotateKeys, gw.RotateKeys(token_id=token_id, grace_seconds=grace_seconds), admin=True
        )

    def close(self) -> None:
        self.channel.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def add_connection_args(p: Any) -> None:
    """--target/--token/--ca/--cert/--key/--totp-secret (defaults from OMS_GATEWAY, OMS_TOKEN, ...).

    Secrets (the token, the TOTP secret) come from the environment (OMS_TOKEN, OMS_TOTP_SECRET), a file
    readable only by its owner (--token-file / OMS_TOKEN_FILE, --totp-secret-file /
    OMS_TOTP_SECRET_FILE) or, for the token, a prompt on the terminal. On the command line they still
    work but print a warning: argv is visible to every local user (`ps`) and lands in shell history."""
    p.add_argument(
        "--target",
        default=os.environ.get("OMS_GATEWAY", "127.0.0.1:50051"),
        help="gateway host:port (env OMS_GATEWAY)",
    )
    p.add_argument(
        "--token", default=None, help="API token; prefer env OMS_TOKEN or --token-file (argv is public)"
    )
    p.add_argument(
        "--token-file", default=os.environ.get("OMS_TOKEN_FILE"), help="file with the token (mode 0600)"
    )
    p.add_argument("--ca", default=os.environ.get("OMS_CA", "var/certs/ca.crt"), help="CA file (env OMS_CA)")
    p.add_argument("--cert", default=os.environ.get("OMS_CLIENT_CERT"), help="client certificate (mTLS)")
    p.add_argument("--key", default=os.environ.get("OMS_CLIENT_KEY"), help="client key (mTLS)")
    p.add_argument("--totp-secret", default=None, help="TOTP secret (admin); prefer env OMS_TOTP_SECRET")
    p.add_argument(
        "--totp-secret-file",
        default=os.environ.get("OMS_TOTP_SECRET_FILE"),
        help="file with the TOTP secret (0600)",
    )
    p.add_argument("--timeout", type=float, default=10.0)


def read_private_file(path: str, what: str) -> str:
    """The stripped contents of a file only its owner can read; refuses a group/world-readable one."""
    try:
        st = os.stat(path)
    except OSError as e:
        raise Rejected(f"{what} file {path!r} cannot be read: {e.strerror}") from None
    if st.st_mode & 0o077:
        raise Rejected(
            f"{what} file {path!r} has mode {st.st_mode & 0o777:o}; other users could read it: "
            f"chmod 600 {path}"
        )
    if st.st_uid != os.getuid():
        raise Rejected(f"{what} file {path!r} belongs to uid {st.st_uid}, not to you; use your own file")
    with open(path, encoding="utf-8") as f:
        value = f.read().strip()
    if not value:
        raise Rejected(f"{what} file {path!r} is empty")
    return value


def read_secret(
    argv_value: str | None, env: str, file_path: str | None, what: str, flag: str, *, prompt: bool = False
) -> str | None:
    """A secret from argv (with a warning), the environment, a 0600 file, or the terminal."""
    import sys

    if argv_value:
        print(
            f"warning: {what} given on the command line ({flag}) is visible to other users (ps) and in your "
            f"shell history; use {env}, {flag}-file or the prompt instead",
            file=sys.stderr,
        )
        return argv_value
    value = os.environ.get(env)
    if value:
        return value.strip()
    if file_path:
        return read_private_file(file_path, what)
    if prompt and sys.stdin.isatty():
        import getpass

        return getpass.getpass(f"{what}: ").strip() or None
    return None


def client_from_args(args: Any) -> Client:
    token = read_secret(args.token, "OMS_TOKEN", args.token_file, "API token", "--token", prompt=True)
    if not token:
        raise Rejected(
            "no API token: set OMS_TOKEN, pass --token-file (mode 0600) or run on a terminal to be "
            "prompted (create one with `oms tokens add`)"
        )
    totp_secret = read_secret(
        args.totp_secret, "OMS_TOTP_SECRET", args.totp_secret_file, "TOTP secret", "--totp-secret"
    )
    return Client(
        args.target,
        token=token,
        ca=args.ca,
        cert=args.cert,
        key=args.key,
        totp_secret=totp_secret,
        timeout=args.timeout,
    )
