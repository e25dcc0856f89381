"""Services room: entry point of the detached keeper started by `oms services up`.

Touches what oms/services/manager.keep touches. Run as `python -m oms.services.keeper --keep --root DIR`
with the `[services]` section as JSON on stdin (not argv: it may hold the OpenBao root token, and argv
is visible to every user); it owns the servers until SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import msgspec

from oms.services.manager import keep
from oms.services.settings import Settings


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m oms.services.keeper")
    ap.add_argument("--keep", action="store_true", required=True)
    ap.add_argument("--root", required=True)
    a = ap.parse_args(argv)
    settings = msgspec.convert(json.loads(sys.stdin.read()), Settings)
    return keep(settings, Path(a.root))


if __name__ == "__main__":
    raise SystemExit(main())
