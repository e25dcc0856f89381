"""Venues room (simulators): loopback venue simulators speaking each venue's real wire protocol
(`binance/`). Touches nothing at import; each simulator binds 127.0.0.1/::1 only.
"""
