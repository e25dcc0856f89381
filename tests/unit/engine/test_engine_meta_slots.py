"""The engine's meta slots: one table in oms/engine/state.py, no two names on one slot."""

from __future__ import annotations

from oms.engine import loop as LP
from oms.engine import state as S


def test_meta_slots_one_table() -> None:
    names = [n for n in vars(S) if n.startswith("M_") and n != "M_SIZE"]
    assert sorted(S.META_SLOTS.values()) == sorted(names)  # every slot named once, in the table
    assert len(set(S.META_SLOTS)) == len(names)
    for loop_counter in ("M_GW_DROPS", "M_NO_ROUTE", "M_BUSY", "M_BLOCKED"):
        assert loop_counter in S.META_SLOTS.values()
        assert not hasattr(LP, loop_counter)  # defined in state.py only


def test_loop_rings_travel_as_one_structure() -> None:
    fields = LP.LoopRings._fields
    assert fields[:4] == ("gw_c", "gw_b", "br_c", "br_b") and fields[-3:] == ("bbo_c", "bbo_rows", "bbo_out")
    assert list(LP.run.py_func.__code__.co_varnames[:6]) == [
        "s",
        "io",
        "wstate",
        "batch",
        "max_iters",
        "use_bbo",
    ]
