"""Services room: entry point of the detached keeper started by `oms services up`.

Touches what oms/services/manager.keep touches. Run as `python -m oms.services.keeper --keep --root DIR
--settings JSON` (the `[services]` section as JSON); it owns the servers until SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import msgspec

from oms.services.manager import keep
from oms.services.settings import Settings


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m oms.services.keeper")
    ap.add_argument("--keep", action="store_true", required=True)
    ap.add_argument("--root", required=True)
    ap.add_argument("--settings", required=True, help="the [services] section as JSON")
    a = ap.parse_args(argv)
    settings = msgspec.convert(json.loads(a.settings), Settings)
    return keep(settings, Path(a.root))


if __name__ == "__main__":
    raise SystemExit(main())
