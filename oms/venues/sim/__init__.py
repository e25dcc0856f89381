"""Venues room (simulators): loopback venue simulators speaking each venue's real wire protocol —
the venue-neutral simulator kit (`kit/`) and the venues built on it (`binance/`, `bybit/`). Touches
nothing at import; each simulator binds 127.0.0.1/::1 only. See docs/simulators.md.
"""
