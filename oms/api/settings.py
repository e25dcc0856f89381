"""Gateway room (oms/api): the `[gateway]` section of configs/oms.toml (validated by the config loader).

Touches nothing. Paths are relative to the working directory unless absolute.
"""

from __future__ import annotations

import ipaddress

import msgspec

SECTION = "gateway"


class Settings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    host: str = "127.0.0.1"  # the TLS 1.3 port listens here (loopback by default)
    port: int = 50051
    cert: str = "var/certs/server.crt"  # made by `oms certs init`
    key: str = "var/certs/server.key"
    client_ca: str = ""  # set (e.g. var/certs/ca.crt) to request client certificates (mTLS)
    require_client_cert: bool = False  # with client_ca: refuse clients without a valid certificate
    tokens_file: str = "var/gateway/tokens.json"  # `oms tokens add|list|revoke`
    audit_file: str = "var/log/gateway-audit.jsonl"
    audit_dsn: str = ""  # PostgreSQL DSN: also append every decision to the store's hash-chained audit log
    ack_timeout_s: float = 2.0  # engine answer deadline for one command (then DEADLINE_EXCEEDED)
    totp_single_use: bool = True  # a TOTP code is accepted once per token (RFC 6238 §5.2)
    create_rings: bool = True  # create the gateway<->engine rings when the engine has not yet
    ring_capacity: int = 65536
    max_message_bytes: int = 4 * 1024 * 1024
    totp_max_failures: int = 5  # wrong TOTP codes in a row that lock the token
    totp_lock_s: float = 60.0  # first lock; each further lock doubles it (at most a day)
    peer_auth_rate: float = 10.0  # per peer address: calls/s without an already-verified token
    peer_auth_burst: int = 50
    stream_max_pending: int = 16384  # OrderStream: commands awaiting the engine's ack, per stream
    stream_max_buffered: int = 65536  # OrderStream: acks+events queued for a client that is not reading


def validate(s: Settings) -> list[tuple[str, object, str]]:
    out: list[tuple[str, object, str]] = []
    try:
        ipaddress.ip_address(s.host)
    except ValueError:
        if s.host != "localhost":
            out.append(("host", s.host, "must be an IP address such as 127.0.0.1 or ::1"))
    if not 0 <= s.port <= 65535:
        out.append(("port", s.port, "must be within 0..65535 (0 = any free port)"))
    if not 0.01 <= s.ack_timeout_s <= 60:
        out.append(("ack_timeout_s", s.ack_timeout_s, "must be within 0.01..60 seconds"))
    if s.require_client_cert and not s.client_ca:
        out.append(("require_client_cert", True, "needs client_ca (the CA that signs client certificates)"))
    if s.ring_capacity < 1024 or s.ring_capacity & (s.ring_capacity - 1):
        out.append(("ring_capacity", s.ring_capacity, "must be a power of two >= 1024"))
    if not 1024 <= s.max_message_bytes <= 64 * 1024 * 1024:
        out.append(("max_message_bytes", s.max_message_bytes, "must be within 1 KiB..64 MiB"))
    if s.totp_max_failures < 1:
        out.append(("totp_max_failures", s.totp_max_failures, "must be >= 1"))
    if not 1 <= s.totp_lock_s <= 86400:
        out.append(("totp_lock_s", s.totp_lock_s, "must be within 1..86400 seconds"))
    if s.peer_auth_rate <= 0 or s.peer_auth_burst < 1:
        out.append(("peer_auth_rate", s.peer_auth_rate, "rate must be > 0 and peer_auth_burst >= 1"))
    if s.stream_max_pending < 1 or s.stream_max_buffered < 2 * validation_max_batch():
        out.append(("stream_max_buffered", s.stream_max_buffered, "stream_max_pending >= 1 and this >= 512"))
    return out


def validation_max_batch() -> int:
    return 256  # oms.api.validation.MAX_BATCH (not imported: settings load without the generated code)
