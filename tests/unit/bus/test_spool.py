"""The bridge spool: order kept across segments and reopen, bounded, torn tail discarded."""

from __future__ import annotations

from pathlib import Path

from oms.bus.spool import Spool


def test_append_peek_commit_across_segments_and_reopen(tmp_path: Path) -> None:
    sp = Spool(tmp_path, max_bytes=1 << 20, segment_bytes=64 * 1024)
    payloads = [bytes([i % 251]) * 5000 for i in range(40)]  # ~200 KB: several segments
    for i, p in enumerate(payloads):
        assert sp.append(f"orders.binance.spot.I{i}", f"id-{i}", p)
    sp.sync()
    assert len(list(tmp_path.glob("seg-*.spool"))) >= 3
    first = sp.peek(10)
    assert [e.msg_id for e in first] == [f"id-{i}" for i in range(10)]
    sp.commit(first[-1].pos)
    sp.close()
    sp2 = Spool(tmp_path, max_bytes=1 << 20, segment_bytes=64 * 1024)  # a restarted bridge
    rest = []
    while batch := sp2.peek(7):
        rest += batch
        sp2.commit(batch[-1].pos)
    assert [e.payload for e in rest] == payloads[10:]
    assert rest[0].subject == "orders.binance.spot.I10"
    assert sp2.empty()
    assert len(list(tmp_path.glob("seg-*.spool"))) <= 1  # drained segments deleted


def test_bounded(tmp_path: Path) -> None:
    sp = Spool(tmp_path, max_bytes=100 * 1024, segment_bytes=64 * 1024)
    n = 0
    while sp.append("s", f"id{n}", b"x" * 4000):
        n += 1
    assert 20 <= n <= 25
    assert sp.bytes_used() <= 100 * 1024
    batch = sp.peek(10)
    sp.commit(batch[-1].pos)
    assert sp.append("s", "again", b"x" * 4000)  # room again after draining


def test_torn_tail_is_discarded(tmp_path: Path) -> None:
    sp = Spool(tmp_path, max_bytes=1 << 20, segment_bytes=1 << 20)
    for i in range(3):
        sp.append("s", f"id{i}", b"payload-%d" % i)
    sp.close()
    seg = next(tmp_path.glob("seg-*.spool"))
    with open(seg, "ab") as fh:
        fh.write(b"\x05\x00\x00\x00garbage")  # a crash in the middle of the next append
    sp2 = Spool(tmp_path, max_bytes=1 << 20, segment_bytes=1 << 20)
    assert [e.msg_id for e in sp2.peek(10)] == ["id0", "id1", "id2"]
    assert sp2.append("s", "id3", b"p3")
    assert [e.msg_id for e in sp2.peek(10)] == ["id0", "id1", "id2", "id3"]
