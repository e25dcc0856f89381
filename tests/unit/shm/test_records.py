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


def test_layout_check_raises_even_without_asserts() -> None:
    import numpy as np
    import pytest

    padded = np.dtype([("a", "u1"), ("b", "<u8")], align=True)  # 7 bytes of implicit padding
    with pytest.raises(r.LayoutError, match="implicit padding before field 'b'"):
        r.check_layout(padded, 16, "PADDED")
    with pytest.raises(r.LayoutError, match="itemsize 64 != 128"):
        r.check_layout(r.MARKET, 128, "MARKET")
    with pytest.raises(r.LayoutError, match="not a whole number of 64-byte"):
        r.check_layout(np.dtype([("a", "<u8")]), 8, "SMALL")
    r.check_layout(r.EVENT, 128, "EVENT")


def test_layout_checks_run_under_python_O() -> None:
    """`python -O` strips asserts; the import-time check still refuses a padded layout there."""
    import subprocess
    import sys

    code = (
        "import numpy as np; from oms.shm import records as r\n"
        "try:\n"
        "    r.check_layout(np.dtype([('a', 'u1'), ('b', '<u8')], align=True), 16, 'X')\n"
        "except r.LayoutError as e:\n"
        "    print('refused', e)\n"
    )
    p = subprocess.run([sys.executable, "-O", "-c", code], capture_output=True, text=True, timeout=60)
    assert p.stdout.startswith("refused record X: implicit padding"), p.stdout + p.stderr
