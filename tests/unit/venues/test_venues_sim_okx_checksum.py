"""OKX `books` checksum known answer from OKX's docs (WebSocket order book checksum example):
bids 3366.1 x 7, 3366 x 6; asks 3366.8 x 9, 3368 x 8 → "3366.1:7:3366.8:9:3366:6:3368:8", CRC32
signed -1881014294; and one bid against three asks → "3366.1:7:3366.8:9:3368:8:3372:8",
831078360; plus the interleaving when one side is longer and the 25-level cut."""

from __future__ import annotations

import zlib

from oms.venues.sim.okx import checksum


def test_okx_docs_example() -> None:
    bids = [["3366.1", "7", "0", "3"], ["3366", "6", "3", "4"]]
    asks = [["3366.8", "9", "10", "3"], ["3368", "8", "3", "4"]]
    assert checksum(bids, asks) == -1881014294
    bids = [["3366.1", "7", "0", "3"]]
    asks = [["3366.8", "9", "10", "3"], ["3368", "8", "3", "4"], ["3372", "8", "3", "4"]]
    assert checksum(bids, asks) == 831078360


def test_uneven_sides_and_top_25_only() -> None:
    bids = [["1", "2"], ["0.5", "3"]]
    asks = [["4", "5"]]
    want = zlib.crc32(b"1:2:4:5:0.5:3")
    assert checksum(bids, asks) == (want - (1 << 32) if want >= 1 << 31 else want)
    many = [[str(100 - i), "1"] for i in range(30)]
    assert checksum(many, []) == checksum(many[:25], [])
    assert checksum(many, []) != checksum(many[:24], [])
