"""Procs room: the `keys` program (a supervisord program) — the key-rotation schedule inside the stack.

Only wiring: `[secrets]` (store, audit, key_admins, schedule_interval_s) → `oms.secrets.schedule.KeySchedule`;
its alerts go to the monitor as `StatsFrame(program="keys", alerts=[...])` on `<monitor.stats_subject>.keys`
(the monitor posts them to Slack/Discord). Touches the key store, the secrets audit file and NATS.

    python -m oms.procs.keys [--config configs/oms.toml] [--nats-url nats://...] [--interval S]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import time

from oms import log
from oms.errors import OmsError
from oms.secrets.rotation import Alert

_log = log.get("oms.procs.keys")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="oms.procs.keys", description=__doc__.splitlines()[0])
    p.add_argument("--config", default=os.environ.get("OMS_CONFIG"), help="path to oms.toml")
    p.add_argument("--nats-url", default=os.environ.get("OMS_NATS_URL", ""), help="NATS for alerts")
    p.add_argument("--interval", type=float, default=None, help="override [secrets].schedule_interval_s")
    return p.parse_args(argv)


async def serve(args: argparse.Namespace) -> None:
    from oms.monitor.frames import AlertReport, StatsFrame, encode
    from oms.secrets.audit import open_configured_audit
    from oms.secrets.schedule import KeySchedule
    from oms.secrets.settings import load_settings
    from oms.secrets.store import open_store

    settings = load_settings(args.config)
    subject = "monitor.stats.keys"
    try:
        from oms.config import load

        subject = f"{load(args.config).section('monitor').stats_subject}.keys"
    except (OmsError, KeyError):
        pass
    store = open_store(settings)
    audit = open_configured_audit(settings.audit_path, settings.audit_store, args.config)
    nc = None
    if args.nats_url:
        import nats

        from oms.credentials import nats_options

        nc = await nats.connect(
            args.nats_url, name="oms-keys", max_reconnect_attempts=-1, connect_timeout=2,
            **nats_options(args.nats_url),  # its own user from its 0600 credential file
        )  # fmt: skip

    async def publish(alerts: list[Alert]) -> None:
        if nc is None:
            return
        frame = StatsFrame(program="keys", ts_ns=time.time_ns(), alerts=[
            AlertReport(kind=a.kind, subject=f"{a.name} v{a.version}", message=a.message, due_at=a.due_at)
            for a in alerts
        ])  # fmt: skip
        await nc.publish(subject, encode(frame))
        await nc.flush()

    sched = KeySchedule(store, audit, settings, publish=publish, interval_s=args.interval or 0.0)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, sched.stop)
    _log.info("keys: schedule every %.1fs over %d key name(s)", sched.interval_s, len(store.names()))
    print("KEYS READY", flush=True)
    try:
        await sched.run()
    finally:
        if nc is not None:
            await nc.drain()
        store.close()


def main(argv: list[str] | None = None) -> int:
    log.setup(json_lines=os.environ.get("OMS_JSON_LOGS") == "1")
    args = parse_args(argv)
    try:
        asyncio.run(serve(args))
    except OmsError as e:
        print(f"keys: error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
