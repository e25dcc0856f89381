"""Venues room (bybit): error table (errors.py); the adapter itself is not built yet (see docs/venues.md)."""
