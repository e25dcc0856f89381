"""Error room: the one root `OmsError` and its three meanings a caller acts on.

- `Rejected`: will never succeed as sent (bad symbol, filter, risk, bad config or input).
- `Transient`: safe to retry (429, timeout before send, reconnect).
- `OutcomeUnknown`: sent, answer lost; reconcile before retrying.

Touches nothing; every other room raises these (or subclasses) so callers need one `except` per meaning.
"""

from __future__ import annotations


class OmsError(Exception):
    """Root of every error the OMS raises on purpose.

    `code` is a short machine-readable reason (e.g. a venue code "-1121" or "risk.max_qty");
    `venue` names the venue when one is involved.
    """

    def __init__(self, message: str, *, code: str | None = None, venue: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.venue = venue

    def __str__(self) -> str:
        where = f"[{self.venue}] " if self.venue else ""
        code = f" (code {self.code})" if self.code else ""
        return f"{where}{self.message}{code}"


class Rejected(OmsError):
    """Will never succeed as sent: fix the input, do not retry."""


class Transient(OmsError):
    """Retry is safe; `retry_after` (seconds) says when, if the source said so."""

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        venue: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, code=code, venue=venue)
        self.retry_after = retry_after


class OutcomeUnknown(OmsError):
    """The request may have taken effect; reconcile (query by client id) before any retry."""


class ConfigError(Rejected):
    """A configuration file, key or value is wrong; the message names file, key, value and the fix."""
