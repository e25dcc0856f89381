"""Venues room: the unified `Exchange` Protocol and registry, symbol normalisation, the instrument
registry, venue error tables, one folder per venue and the venue simulators (`sim/`).

Touches nothing at import. See docs/venues.md.
"""
