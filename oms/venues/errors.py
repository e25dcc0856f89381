"""Venues room: venue error answers → the OMS error taxonomy (Rejected / Transient / OutcomeUnknown).

Touches nothing. Each venue keeps its table as data (`<venue>/errors.py`: `CODES` = the exact table,
code → (meaning, note); `MESSAGES` = the broad table, code → (message substring, meaning) for codes that
carry several meanings), as CCXT keeps `exceptions = {'exact': ..., 'broad': ...}`. `classify()` applies
the venue's table first — so an "outcome unknown" code wins over its HTTP status (a timeout code that
comes with HTTP 400 is resolved by query, not rejected) — then HTTP-status defaults. Meanings:
"rejected" (never retry as sent), "transient" (retry is safe), "clock" (transient: resync
the venue clock, then retry once), "unknown" (the request may have taken effect: resolve by query),
"unknown_if_mutating" (unknown for order entry, transient for reads).
"""

from __future__ import annotations

import importlib
import re

from oms.errors import OmsError, OutcomeUnknown, Rejected, Transient
from oms.venues.interface import ErrorTable

MEANINGS = ("rejected", "transient", "clock", "unknown", "unknown_if_mutating")
_TABLES: dict[str, ErrorTable] = {}


def table(venue: str) -> ErrorTable:
    """The error table of a venue folder (`oms/venues/<venue>/errors.py`)."""
    if venue not in _TABLES:
        if not re.fullmatch(r"[a-z][a-z0-9_]*", venue):
            raise Rejected(f"venue name {venue!r} must be lower-case letters, digits and _")
        try:
            mod = importlib.import_module(f"oms.venues.{venue}.errors")
        except ImportError:
            raise Rejected(
                f"no error table for venue {venue!r}: add oms/venues/{venue}/errors.py with CODES "
                "(and MESSAGES) — see docs/adding-a-venue.md"
            ) from None
        _TABLES[venue] = ErrorTable(venue, dict(mod.CODES), dict(getattr(mod, "MESSAGES", {})))
    return _TABLES[venue]


def code_name(venue: str, code: int | str) -> str:
    """The venue's name for an error code, from its table (`-4048` → the name before any note), e.g.
    "MARGIN_TYPE_CANNOT_BE_CHANGED_IF_THERE_EXISTS_POSITION"; "venue error <code>" when the table lacks it."""
    try:
        row = table(venue).exact.get(str(code))
    except Rejected:
        row = None
    if row is None:
        return f"venue error {code}"
    note = row[1]
    for sep in (":", " (", " /"):
        note = note.split(sep, 1)[0]
    return note.strip()


def meaning_of(t: ErrorTable, code: int | str | None, msg: str = "") -> str | None:
    """The table's meaning for one (code, message), or None when the table does not know the code."""
    key = str(code) if code is not None else ""
    for needle, meaning in t.broad.get(key, ()):
        if needle.lower() in msg.lower():
            return meaning
    row = t.exact.get(key)
    return row[0] if row is not None else None


def _make(
    meaning: str, text: str, code: str, venue: str, mutating: bool, retry_after: float | None
) -> OmsError:
    if meaning == "unknown_if_mutating":
        meaning = "unknown" if mutating else "transient"
    if meaning == "rejected":
        return Rejected(text, code=code, venue=venue)
    if meaning in ("transient", "clock"):
        return Transient(text, code=code, venue=venue, retry_after=retry_after)
    return OutcomeUnknown(text, code=code, venue=venue)


def classify(
    venue: str | ErrorTable,
    status: int,
    code: int | str | None,
    msg: str = "",
    *,
    mutating: bool = True,
    retry_after: float | None = None,
) -> OmsError:
    """Map one venue error answer (HTTP status, venue code, message) to an OmsError."""
    t = venue if isinstance(venue, ErrorTable) else table(venue)
    key = str(code) if code is not None else ""
    text = msg or f"HTTP {status}"
    if status in (429, 418):
        what = "IP banned by the venue (kept sending after 429)" if status == 418 else "rate limited"
        return Transient(f"{what}: {text}", code=key or str(status), venue=t.venue, retry_after=retry_after)
    meaning = meaning_of(t, code, text)
    if meaning is not None:
        return _make(meaning, text, key, t.venue, mutating, retry_after)
    if status >= 500 or status == 0:
        return _make(
            "unknown_if_mutating",
            f"venue error, outcome unknown: {text}",
            key or str(status),
            t.venue,
            mutating,
            retry_after,
        )
    if status in (401, 403):
        return Rejected(f"not authorised: {text}", code=key or str(status), venue=t.venue)
    return Rejected(text, code=key or str(status), venue=t.venue)
