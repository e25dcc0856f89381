"""Config room: one venue-market's settings, from configs/exchanges/<venue>_<market>.toml.

Touches nothing. Endpoints, the credentials reference (a key *name* in the secrets KeyStore, never the
key itself), rate limits as a table, fees, symbols. The venues room reads these; the file name must be
`<venue>_<market>.toml` and start with the `venue` key inside (the venue's own market word may stand in
the name, e.g. okx_swap.toml holds market = "linear"); the name is the key in `cfg.exchanges`.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Literal

import msgspec

from oms.ids import MARKETS, VENUES

LIMIT_KINDS = ("request_weight", "orders", "raw_requests", "connections", "messages")


class Credentials(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    key: str = ""  # name in the KeyStore ([secrets] backend: local keystore or Vault/OpenBao)
    required: bool = False  # True: the connector refuses to start without it (trading); False: data only


class RateLimit(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    kind: str  # one of LIMIT_KINDS
    interval_s: int  # window length in seconds
    limit: int  # units allowed per window
    scope: Literal["ip", "account", "connection"] = "ip"


class Fees(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    maker: Decimal = Decimal("0.001")  # fraction of notional: 0.001 = 0.1 % (negative = rebate)
    taker: Decimal = Decimal("0.001")


class ExchangeSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    venue: str
    market: str
    enabled: bool = True
    testnet: bool = False
    rest_url: str
    ws_url: str
    ws_api_url: str = ""
    recv_window_ms: int = 5000
    credentials: Credentials = msgspec.field(default_factory=Credentials)
    rate_limits: list[RateLimit] = []
    fees: Fees = msgspec.field(default_factory=Fees)
    symbols: list[str] = []

    @property
    def name(self) -> str:
        return f"{self.venue}_{self.market}"


def validate_exchange(s: ExchangeSettings, stem: str) -> list[tuple[str, object, str]]:
    bad: list[tuple[str, object, str]] = []
    if s.venue not in VENUES:
        bad.append(("venue", s.venue, f"must be one of {', '.join(sorted(VENUES))}"))
    if s.market not in MARKETS:
        bad.append(("market", s.market, f"must be one of {', '.join(sorted(MARKETS))}"))
    if s.venue in VENUES and not stem.startswith(f"{s.venue}_"):
        bad.append(("venue", s.venue, f"must match the file name {stem}.toml (<venue>_<market>.toml)"))
    if not s.rest_url.startswith(("http://", "https://")):
        bad.append(("rest_url", s.rest_url, "must start with https:// (or http:// for a local simulator)"))
    for key in ("ws_url", "ws_api_url"):
        url = getattr(s, key)
        if (url or key == "ws_url") and not url.startswith(("ws://", "wss://")):
            bad.append((key, url, "must start with wss:// (or ws:// for a local simulator)"))
    if not 1 <= s.recv_window_ms <= 60000:
        bad.append(("recv_window_ms", s.recv_window_ms, "must be 1..60000 ms"))
    if s.credentials.required and not s.credentials.key:
        bad.append(("credentials.key", "", "must name a KeyStore entry when credentials.required = true"))
    if s.credentials.key and not re.match(rf"^{re.escape(s.venue)}_[a-z][a-z0-9]*$", s.credentials.key):
        bad.append(
            (
                "credentials.key",
                s.credentials.key,
                f"must be <venue>_<market> of this venue, e.g. {s.venue}_spot (the Vault path "
                f"secret/exchanges/<key> and its fields <key>_api_key / <key>_secret_key)",
            )
        )
    for i, rl in enumerate(s.rate_limits):
        if rl.kind not in LIMIT_KINDS:
            bad.append((f"rate_limits[{i}].kind", rl.kind, f"must be one of {', '.join(LIMIT_KINDS)}"))
        if rl.interval_s <= 0:
            bad.append((f"rate_limits[{i}].interval_s", rl.interval_s, "must be > 0 seconds"))
        if rl.limit <= 0:
            bad.append((f"rate_limits[{i}].limit", rl.limit, "must be > 0"))
    for key in ("maker", "taker"):
        fee = getattr(s.fees, key)
        if not Decimal("-0.01") <= fee <= Decimal("0.01"):
            bad.append((f"fees.{key}", str(fee), "must be a fraction between -0.01 and 0.01 (0.001 = 0.1 %)"))
    for i, sym in enumerate(s.symbols):
        if not re.match(r"^[A-Z0-9][A-Z0-9_\-]{1,31}$", sym):
            bad.append((f"symbols[{i}]", sym, "must be the venue's upper-case symbol, e.g. BTCUSDT"))
    if len(set(s.symbols)) != len(s.symbols):
        bad.append(("symbols", s.symbols, "must not list a symbol twice"))
    return bad
