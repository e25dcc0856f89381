"""Config room: typed configuration (configs/oms.toml, configs/exchanges/*.toml, OMS_* overrides).

Touches only the config files and environment it reads. `load(path=None) -> OmsConfig`;
`cfg.section("<name>")` gives a room's typed Settings, `cfg.exchanges["binance_spot"]` an
ExchangeSettings. See oms/config/loader.py and docs/foundation.md.
"""

from __future__ import annotations

from oms.config.exchange import Credentials, ExchangeSettings, Fees, RateLimit
from oms.config.loader import discover, load
from oms.config.model import OmsConfig

__all__ = ["Credentials", "ExchangeSettings", "Fees", "OmsConfig", "RateLimit", "discover", "load"]
