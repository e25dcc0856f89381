"""Record layouts: sizes, alignment and a stable dtype hash."""

from __future__ import annotations

from oms.shm import records as r


def test_sizes_and_hash_stable() -> None:
    assert (r.COMMAND.itemsize, r.EVENT.itemsize, r.MARKET.itemsize) == (128, 128, 64)
    assert r.dtype_hash(r.COMMAND) == r.dtype_hash(r.COMMAND.newbyteorder("="))
    assert len({r.dtype_hash(d) for d in (r.COMMAND, r.EVENT, r.MARKET)}) == 3


def test_every_kind_has_a_name() -> None:
    kinds = [
        v
        for k, v in vars(r).items()
        if k.isupper()
        and isinstance(v, int)
        and k in {"SUBMIT_ORDER", "ORDER_FILLED", "MD_BBO", "TRADING_STATE_CHANGED"}
    ]
    assert all(k in r.KIND_NAMES for k in kinds)
