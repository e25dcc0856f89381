"""The test tree (a regular package, so `tests.<room>` helpers resolve here first: a dependency
(pyupbit) installs a top-level `tests` package into site-packages that would otherwise shadow ours)."""
