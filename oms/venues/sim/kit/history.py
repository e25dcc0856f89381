"""Simulator kit room: paging through history (orders, fills, ledger) the way exchanges page it.

Touches nothing. Rows are kept oldest first; a page is chosen by an id cursor (`from_id`: rows with
id >= it), a time range (`start_time` / `end_time`, inclusive) and a size (`limit`). With a cursor or a
start time the page is the oldest `limit` rows from there (a client walks forward); with neither it is
the newest `limit` rows (what "most recent" means on Binance and Bybit).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

T = TypeVar("T")


def page(
    rows: Iterable[T],
    *,
    id_of: Callable[[T], int],
    time_of: Callable[[T], int],
    limit: int,
    from_id: int | None = None,
    start_time: int | None = None,
    end_time: int | None = None,
) -> list[T]:
    """One page of `rows` (oldest first in, oldest first out)."""
    picked = [
        r
        for r in rows
        if (from_id is None or id_of(r) >= from_id)
        and (start_time is None or time_of(r) >= start_time)
        and (end_time is None or time_of(r) <= end_time)
    ]
    if from_id is not None or start_time is not None:
        return picked[:limit]
    return picked[-limit:] if limit > 0 else []
