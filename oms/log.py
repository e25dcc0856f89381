"""Logging room: one logger per room (`oms.<room>`), text or JSON lines, never a secret.

Call `setup(json_lines=..., level=...)` once per process (the CLI and every `oms/procs` program do);
rooms use `get(__name__)`. A redaction filter masks anything that looks like a key, signature, URL
userinfo (`nats://user:pass@`), bearer credential or API token (`omt_...`), and any value registered
with `redact()`, so a secret cannot reach a log line even by mistake.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import threading
import time

_lock = threading.Lock()
_redacted: set[str] = set()
# value classes stop at quotes and backslashes, so scrubbing a JSON line never eats an escape
_PATTERNS = [
    re.compile(r"(signature=)[0-9A-Za-z+/=%]+"),
    # URL userinfo: nats://user:pass@host, postgresql://u:p@h/db -> scheme://***@host
    re.compile(r"([A-Za-z][A-Za-z0-9+.-]*://)[^/\s@\"'\\]+(?=@)"),
    # bearer credentials and our API tokens wherever they appear (omt_<id>.<secret>)
    re.compile(r"(Bearer\s+)[^\s\"',;\\]+", re.I),
    re.compile(r"(omt_)[A-Za-z0-9_-]+\.[A-Za-z0-9_.~+/=-]+"),
    re.compile(
        r"((?:api[_-]?key|secret|password|passphrase|token)[\"']?\s*[:=]\s*[\"']?)[^\s\"'&,}\\]+", re.I
    ),
]


def redact(value: str) -> None:
    """Register a literal (e.g. an API secret) that must never appear in any log line."""
    if value and len(value) >= 6:
        with _lock:
            _redacted.add(value)


def scrub(text: str) -> str:
    for pat in _PATTERNS:
        text = pat.sub(r"\1***", text)
    with _lock:
        values = list(_redacted)
    for v in values:
        if v in text:
            text = text.replace(v, "***")
    return text


class _RedactFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        msg = record.getMessage()
        clean = scrub(msg)
        if clean != msg:
            record.msg, record.args = clean, None
        return True


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "room": record.name,
            "msg": record.getMessage(),
        }
        extra = getattr(record, "fields", None)
        if isinstance(extra, dict):
            out.update(_scrub_obj(extra))
        if record.exc_info:
            out["exc"] = scrub(self.formatException(record.exc_info))
        if record.stack_info:
            out["stack"] = scrub(self.formatStack(record.stack_info))
        return scrub(json.dumps(out, default=str))


class _TextFormatter(logging.Formatter):
    """The whole line is scrubbed, so tracebacks and stack dumps cannot carry a secret either."""

    def format(self, record: logging.LogRecord) -> str:
        return scrub(super().format(record))


def _scrub_obj(obj: object) -> object:
    if isinstance(obj, str):
        return scrub(obj)
    if isinstance(obj, dict):
        return {k: _scrub_obj(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_scrub_obj(v) for v in obj]
    if isinstance(obj, (int, float, bool)) or obj is None:
        return obj
    return scrub(str(obj))


def setup(*, json_lines: bool = False, level: str | int = "INFO", stream=None) -> None:
    """Configure the root `oms` logger once for this process (idempotent)."""
    root = logging.getLogger("oms")
    root.setLevel(level if isinstance(level, int) else level.upper())
    for h in list(root.handlers):
        root.removeHandler(h)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(_RedactFilter())
    if json_lines:
        handler.setFormatter(_JsonFormatter())
    else:
        handler.setFormatter(_TextFormatter("%(asctime)s %(levelname).1s %(name)s: %(message)s"))
    root.addHandler(handler)
    root.propagate = False


def get(name: str) -> logging.Logger:
    """The logger for a room: pass `__name__` of a module inside `oms`."""
    if not name.startswith("oms"):
        name = f"oms.{name}"
    return logging.getLogger(name)
