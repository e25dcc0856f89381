"""Connector room: the venue-agnostic runtime every `conn-<venue>` process uses.

Backoff, clock-offset tracking, health state, the shared rate-limit budget and depth-book
synchronisation live here; wire formats stay in `oms/venues/<venue>/`. May touch: shared memory
(the rate budget segment), the rings, and the venue through an `Exchange` implementation.
"""
