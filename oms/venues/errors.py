"""Venues room: venue error answers → the OMS error taxonomy (Rejected / Transient / OutcomeUnknown).

Touches nothing. Each venue folder holds its table (`<venue>/errors.py`: `CODES` = code → (meaning,
note), `MESSAGES` = message substrings for codes that carry several meanings); `classify()` applies
the table, then HTTP-status defaults. Meanings: "rejected" (never retry as sent), "transient" (retry
is safe), "unknown" (the request may have taken effect: reconcile), "unknown_if_mutating" (unknown
for order entry, transient for reads).
"""

from __future__ import annotations

import importlib
from types import ModuleType

from oms.errors import OmsError, OutcomeUnknown, Rejected, Transient

MEANINGS = ("rejected", "transient", "unknown", "unknown_if_mutating")
_TABLES: dict[str, ModuleType] = {}


def table(venue: str) -> ModuleType:
    if venue not in _TABLES:
        if venue not in ("binance", "bybit", "okx", "upbit"):
            raise Rejected(f"no error table for venue {venue!r}; tables: binance, bybit, okx, upbit")
        _TABLES[venue] = importlib.import_module(f"oms.venues.{venue}.errors")
    return _TABLES[venue]


def code_name(venue: str, code: int | str) -> str:
    """The venue's name for an error code, from its table (`-4048` → the name before any note), e.g.
    "MARGIN_TYPE_CANNOT_BE_CHANGED_IF_THERE_EXISTS_POSITION"; "venue error <code>" when the table lacks it."""
    try:
        row = table(venue).CODES.get(str(code))
    except Rejected:
        row = None
    if row is None:
        return f"venue error {code}"
    note = row[1]
    for sep in (":", " (", " /"):
        note = note.split(sep, 1)[0]
    return note.strip()


def _make(
    meaning: str, text: str, code: str, venue: str, mutating: bool, retry_after: float | None
) -> OmsError:
    if meaning == "unknown_if_mutating":
        meaning = "unknown" if mutating else "transient"
    if meaning == "rejected":
        return Rejected(text, code=code, venue=venue)
    if meaning == "transient":
        return Transient(text, code=code, venue=venue, retry_after=retry_after)
    return OutcomeUnknown(text, code=code, venue=venue)


def classify(
    venue: str,
    status: int,
    code: int | str | None,
    msg: str = "",
    *,
    mutating: bool = True,
    retry_after: float | None = None,
) -> OmsError:
    """Map one venue error answer (HTTP status, venue code, message) to an OmsError."""
    t = table(venue)
    key = str(code) if code is not None else ""
    text = msg or f"HTTP {status}"
    if status in (429, 418):
        what = "IP banned by the venue (kept sending after 429)" if status == 418 else "rate limited"
        return Transient(f"{what}: {text}", code=key or str(status), venue=venue, retry_after=retry_after)
    for needle, meaning in getattr(t, "MESSAGES", {}).get(key, ()):
        if needle.lower() in text.lower():
            return _make(meaning, text, key, venue, mutating, retry_after)
    row = t.CODES.get(key)
    if row is not None:
        return _make(row[0], text, key, venue, mutating, retry_after)
    if status >= 500 or status == 0:
        return _make(
            "unknown_if_mutating",
            f"venue error, outcome unknown: {text}",
            key or str(status),
            venue,
            mutating,
            retry_after,
        )
    if status in (401, 403):
        return Rejected(f"not authorised: {text}", code=key or str(status), venue=venue)
    return Rejected(text, code=key or str(status), venue=venue)
