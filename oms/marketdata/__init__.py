"""Market-data room: per-venue books into one view — BBO table, consolidated book, VWAP/TWAP, arbitrage.

Touches the connectors' market-data rings (consumer), the engine's market-data ring (producer) and the
BBO seqlock table (its one writer). Kernels in `kernels.py` (njit), the running service in `service.py`.
"""
