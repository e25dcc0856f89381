"""TOTP lockout book-keeping: N wrong codes in a row lock, each further lock doubles, capped at a day."""

from __future__ import annotations

from oms.api.lockout import MAX_LOCK_S, LockoutBook


def test_locks_after_n_failures_in_a_row_and_doubles() -> None:
    b = LockoutBook(max_failures=3, lock_s=10.0)
    assert b.failed("t") == (0.0, 0) and b.failed("t") == (0.0, 0)
    b.succeeded("t")  # a right code ends the run
    assert b.failed("t") == (0.0, 0) and b.failed("t") == (0.0, 0)
    assert b.failed("t") == (10.0, 1) and 9.0 < b.locked_for("t") <= 10.0
    assert [b.failed("t") for _ in range(3)][-1] == (20.0, 2)
    assert b.locked_for("other") == 0.0
    for _ in range(3 * 30):
        b.failed("t")
    assert b.locked_for("t") <= MAX_LOCK_S
