"""Connector room: the runtime of every `conn-<venue>` process (today: Binance spot + USD-M).

Backoff, clock-offset tracking, health state, the shared rate-limit budget, depth-book
synchronisation, the ring pump, the REST edge (python-binance behind budget and clock), the journal of
what the engine was told, instruments and the process wiring (service.py) live here; wire formats and
venue rules stay in `oms/venues/<venue>/` (execution, market_data, user_stream, reconcile).
May touch: shared memory (its rings, the BBO table rows of its instruments, the rate budget
segment), its journal and stats files, and the venue. See docs/connector.md.
"""
