"""Venues room (okx): error table (errors.py); the adapter itself is not built yet (see docs/venues.md)."""
