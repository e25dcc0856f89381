"""[shm] settings: defaults are valid, each bad value is named with its fix, backoff follows them."""

from __future__ import annotations

from oms.shm.settings import Settings, backoff_config, validate


def test_defaults_valid_and_backoff() -> None:
    s = Settings()
    assert validate(s) == []
    cfg = backoff_config(Settings(spin="never", spin_polls=5))
    assert cfg.pure_spin is False and cfg.spin == 5
    assert backoff_config(s).pure_spin is None


def test_bad_values_are_named() -> None:
    s = Settings(command_capacity=1000, spin="sometimes", sleep_min_us=10, sleep_max_us=5, bbo_rows=0)
    keys = {k: must for k, _, must in validate(s)}
    assert keys["command_capacity"].startswith("must be a power of two")
    assert "spin" in keys and "sleep_max_us" in keys and "bbo_rows" in keys


def test_limits_match_the_code() -> None:
    from oms.shm import ring, settings, table

    assert settings.MAX_CAPACITY == ring.MAX_CAPACITY and settings.MAX_ROWS == table.MAX_ROWS
