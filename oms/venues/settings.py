"""Venues room: the `[venues]` section of configs/oms.toml — simulated or live venues for `oms up`.

Touches nothing; discovered by the config loader. `mode = "sim"` (default): `oms up` starts each enabled
venue's local simulator (the adapter's `simulator` spec) and points every program at it with a throwaway
key. `mode = "live"` (or `oms up --live`, or `OMS_VENUES__MODE='"live"'`): no simulator; URLs come from
configs/exchanges/ as written, API keys from the `[secrets]` store (Vault or the keystore), and `oms up`
refuses to start while an enabled venue's key is missing, naming where it was looked for.
"""

from __future__ import annotations

import msgspec

SECTION = "venues"
MODES = ("sim", "live")


class Settings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    mode: str = "sim"  # "sim": local simulators; "live": the URLs and keys of configs/exchanges


def validate(s: Settings) -> list[tuple[str, object, str]]:
    if s.mode not in MODES:
        return [("mode", s.mode, f"must be one of {', '.join(MODES)}")]
    return []
