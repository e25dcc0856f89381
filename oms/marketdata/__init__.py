"""Market-data room: per-venue books into one view — consolidated book, VWAP/TWAP, arbitrage signals.

Touches the connectors' market-data rings (consumer) and the engine's market-data ring (producer). The
BBO seqlock table is written by the connectors (each its own instruments' rows), read by everyone.
Kernels in `kernels.py` (njit), the running service in `service.py`.
"""
