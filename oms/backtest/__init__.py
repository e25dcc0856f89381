"""Backtest room: replay a tape of MARKET records through the real engine kernels, a strategy and a
simulated venue, with latency models on the strategy→engine, engine→venue and venue→engine legs.

Touches only what a run creates (its own Engine, files it is asked to read/write, and for
`tape.record` one MARKET ring it consumes). Modules: `tape` (file format, synthetic tapes, ring
recording), `latency` (models), `simvenue` (fills against the tape), `runner` (Backtest, Context,
Strategy protocol), `report` (PnL, fills, drawdown, rejects, latency used), `strategies` (examples).
See docs/backtest.md.
"""
