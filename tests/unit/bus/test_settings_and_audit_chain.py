"""[bus]/[store] validation messages, the TOML fallback loader, COPY payload format, the audit verifier."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from oms.bus import settings as B
from oms.errors import ConfigError
from oms.shm import records as R
from oms.store import settings as S
from oms.store.audit import GENESIS, AuditRow, row_hash, verify_rows
from oms.store.migrate import available
from oms.store.writer import EVENT_COLS, copy_payload, latest_per_order


def test_defaults_are_valid() -> None:
    assert B.validate(B.Settings()) == []
    assert S.validate(S.Settings()) == []


def test_bad_bus_values_are_named() -> None:
    bad = B.Settings(
        nats_url="http://x",
        exchanges=["binance", "kraken"],
        streams={"orders": B.StreamLimits(storage="disk", max_bytes=0), "trades": B.StreamLimits()},
        max_inflight=0,
    )
    keys = {k for k, _, _ in B.validate(bad)}
    assert {
        "bus.nats_url",
        "bus.exchanges",
        "bus.streams.orders.storage",
        "bus.streams.orders.max_bytes",
        "bus.streams.trades",
        "bus.max_inflight",
    } <= keys


def test_resolve_reads_toml_and_names_bad_keys(tmp_path: Path) -> None:
    cfg = tmp_path / "oms.toml"
    cfg.write_text('[bus]\nnats_url = "nats://127.0.0.1:5555"\n[bus.streams.orders]\nmax_age_s = 60.0\n')
    s = B.resolve(str(cfg))
    assert s.nats_url == "nats://127.0.0.1:5555" and s.streams["orders"].max_age_s == 60.0
    cfg.write_text("[bus]\nframe_recs = 10\n")
    with pytest.raises(ConfigError, match="frame_recs"):
        B.resolve(str(cfg))
    cfg.write_text("[bus]\nframe_records = 0\n")
    with pytest.raises(ConfigError, match=r"frame_records = 0:? must be 1\.\.65536"):
        B.resolve(str(cfg))
    with pytest.raises(ConfigError, match=r"missing\.toml"):
        B.resolve(str(tmp_path / "missing.toml"))
    with pytest.raises(ConfigError, match=r"store\.redis_url"):
        S.resolve(None, "http://nope", None)


def test_copy_payload_is_pg_binary_copy() -> None:
    ev = R.new(R.EVENT, 2)
    ev["seq"] = [7, 2**64 - 1]
    ev["kind"] = R.ORDER_FILLED
    ev["side"] = -1
    data = copy_payload(ev)
    assert data.startswith(b"PGCOPY\n\xff\r\n\x00") and data.endswith(b"\xff\xff")
    row = data[19:]
    assert struct.unpack(">h", row[:2])[0] == len(EVENT_COLS)
    # source (int4) then seq (int8, u64 bit pattern)
    assert struct.unpack(">i i i q", row[2:22]) == (4, 0, 8, 7)
    row2 = row[len(data[19:-2]) // 2 :]
    assert struct.unpack(">q", row2[14:22])[0] == -1  # 2**64-1 kept as the same 64 bits


def test_latest_per_order() -> None:
    ev = R.new(R.EVENT, 5)
    ev["client_order_id"] = [1, 2, 1, 0, 2]
    ev["seq"] = [10, 11, 12, 13, 9]
    ev["kind"] = R.ORDER_ACCEPTED
    got = latest_per_order(ev)
    assert sorted(zip(got["client_order_id"].tolist(), got["seq"].tolist(), strict=True)) == [
        (1, 12),
        (2, 11),
    ]


def test_migrations_are_numbered() -> None:
    ms = available()
    assert [m.version for m in ms] == sorted(m.version for m in ms) and ms[0].version == 1
    assert any("audit_log" in m.sql for m in ms)


def _chain(n: int) -> list[AuditRow]:
    rows, prev = [], GENESIS
    for i in range(1, n + 1):
        h = row_hash(prev, i, 1000 + i, "alice", "SetRiskLimit", f"limit:{i}", '{"v":1}', None)
        rows.append(AuditRow(i, 1000 + i, "alice", "SetRiskLimit", f"limit:{i}", '{"v":1}', None, prev, h))
        prev = h
    return rows


def test_verifier_on_pure_rows() -> None:
    rows = _chain(5)
    assert verify_rows(rows, (5, rows[-1].hash)).ok
    changed = [*rows]
    r = rows[2]
    changed[2] = AuditRow(3, r.ts_ns, "mallory", r.action, r.subject, r.detail, r.ext_id, r.prev_hash, r.hash)
    rep = verify_rows(changed, (5, rows[-1].hash))
    assert rep.problems[0].startswith("row id=3: changed")
    rep = verify_rows(rows[:2] + rows[3:], (5, rows[-1].hash))
    assert "row id=4: rows 3..3 removed (ids jump from 2)" in rep.problems
    rep = verify_rows(rows[:3], (5, rows[-1].hash))
    assert rep.problems == ["rows 4..5 removed from the end (audit_head says 5)"]
