"""Connector room: the venue-neutral runtime of every `conn-<venue>` process.

It owns the policy every venue shares: command dispatch and the order journal (executor.py,
journal.py, write-ahead with pump.py), lost-answer resolution by query, reconciliation (reconcile.py),
the REST gate with the shared rate budget, clock and the venue's error table (rest.py, ratelimit.py,
clock.py), health, backoff, user streams (userstream.py), depth-book sync with the venue's sequencing
rule and the md ring / BBO table (booksync.py, marketdata.py), and the process wiring (service.py).
It drives one venue adapter (oms/venues/interface.py) from the registry and imports no venue package.
May touch: shared memory (its rings, the BBO table rows of its instruments, the rate budget
segment), its journal and stats files, and the venue through the adapter. See docs/connector.md.
"""
