"""Config room: `OmsConfig`, the resolved and validated configuration handed to every room.

Touches nothing. `cfg.section("risk")` returns that room's typed Settings (its defaults when the file
has no such section); `cfg.exchanges["binance_spot"]` an ExchangeSettings; `cfg.core_map()` the
program -> core plan for oms.pinning.plan.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from oms.config.core import LoggingSettings, NodeSettings, PortsSettings, ProcessSettings
from oms.config.exchange import ExchangeSettings
from oms.errors import ConfigError

_SECRET_WORDS = ("token", "secret", "password", "passphrase", "webhook")


@dataclass
class OmsConfig:
    path: Path | None  # the oms.toml read (None = built-in defaults only)
    root: Path  # relative paths (var/...) resolve against this
    sections: dict[str, Any]
    exchanges: dict[str, ExchangeSettings]
    overrides: dict[str, str] = field(default_factory=dict)  # env variable -> "[section].key"
    skipped_rooms: dict[str, str] = field(default_factory=dict)  # room -> import error of its settings

    def section(self, name: str) -> Any:
        try:
            return self.sections[name]
        except KeyError:
            close = difflib.get_close_matches(name, list(self.sections), n=2)
            hint = f"; did you mean {' or '.join(close)}?" if close else ""
            raise ConfigError(
                f"no config section [{name}]{hint} (known: {', '.join(sorted(self.sections))}); "
                f"a room adds one in oms/<room>/settings.py with SECTION = {name!r}"
            ) from None

    @property
    def node(self) -> NodeSettings:
        return self.sections["node"]  # type: ignore[no-any-return]

    @property
    def logging(self) -> LoggingSettings:
        return self.sections["logging"]  # type: ignore[no-any-return]

    @property
    def processes(self) -> dict[str, ProcessSettings]:
        return self.sections["processes"]  # type: ignore[no-any-return]

    @property
    def ports(self) -> PortsSettings:
        return self.sections["ports"]  # type: ignore[no-any-return]

    def resolve_path(self, p: str) -> Path:
        path = Path(p)
        return path if path.is_absolute() else self.root / path

    def core_map(self) -> dict[str, int | None]:
        """Enabled processes -> wanted core (None = unpinned), for oms.pinning.plan."""
        return {n: p.core for n, p in self.processes.items() if p.enabled}

    def enabled_exchanges(self) -> dict[str, ExchangeSettings]:
        return {n: x for n, x in self.exchanges.items() if x.enabled}

    def to_builtins(self, redact: bool = True) -> dict[str, Any]:
        """Plain dict of the resolved config (what `oms config check` prints); secrets masked."""
        out: dict[str, Any] = {
            name: msgspec.to_builtins(value, str_keys=True) for name, value in sorted(self.sections.items())
        }
        out["exchanges"] = {
            n: msgspec.to_builtins(x, str_keys=True) for n, x in sorted(self.exchanges.items())
        }
        return _mask(out) if redact else out


def _mask(obj: Any, key: str = "") -> Any:
    if isinstance(obj, dict):
        return {k: _mask(v, k) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_mask(v, key) for v in obj]
    lowered = key.lower()
    if (
        isinstance(obj, str)
        and obj
        and any(w in lowered for w in _SECRET_WORDS)
        and not lowered.endswith(("_env", "_file", "_days", "_s", "_mount", "_fraction"))
    ):
        return "***"
    return obj
