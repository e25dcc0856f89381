"""Recorder program (supervisord `recorder`): JetStream durables → PostgreSQL and Redis.

Touches NATS, PostgreSQL and Redis through oms/store/recorder.py (where the logic lives). Safe to kill
at any moment: it acks only what PostgreSQL committed, and resumes from its durable consumers.

    python -m oms.procs.recorder [--config FILE] [--nats-url URL] [--dsn DSN] [--redis-url URL]
                                 [--ack-wait S] [--durable-prefix NAME] [--no-cache] [--migrate]
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from collections.abc import Sequence

from oms import log
from oms.bus import settings as bus_settings
from oms.errors import OmsError
from oms.store import settings as store_settings
from oms.store.migrate import migrate
from oms.store.recorder import Recorder

_log = log.get("oms.procs.recorder")


async def serve(args: argparse.Namespace) -> int:
    bus = bus_settings.resolve(
        args.config, nats_url=args.nats_url, ack_wait_s=args.ack_wait, durable_prefix=args.durable_prefix
    )
    store = store_settings.resolve(args.dsn, args.redis_url, args.config)
    if args.migrate:
        migrate(store.postgres_dsn)
    rec = Recorder(bus, store, use_cache=not args.no_cache)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()

    def on_signal() -> None:
        stop.set()
        rec.request_stop()

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, on_signal)
    await rec.start()
    if rec.nc is None:  # stopped before NATS ever answered
        await rec.stop()
        return 0
    _log.info("recorder: %d streams → %s", len(rec.stream_names), "PostgreSQL + Redis")
    await stop.wait()
    await rec.stop()
    _log.info("recorder: stopped (%s)", rec.stats)
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="oms-recorder", description=__doc__.splitlines()[0])
    p.add_argument("--config", default=None)
    p.add_argument("--nats-url", default=None)
    p.add_argument("--dsn", default=None, help="PostgreSQL conninfo (or env OMS_PG_DSN)")
    p.add_argument("--redis-url", default=None, help="Redis URL (or env OMS_REDIS_URL)")
    p.add_argument("--ack-wait", type=float, default=None, help="seconds before JetStream redelivers")
    p.add_argument("--durable-prefix", default=None)
    p.add_argument("--no-cache", action="store_true", help="skip the Redis hot cache")
    p.add_argument("--migrate", action="store_true", help="apply pending migrations first")
    p.add_argument("--json-logs", action="store_true")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    log.setup(json_lines=args.json_logs)
    try:
        return asyncio.run(serve(args))
    except OmsError as e:
        print(f"oms-recorder: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
