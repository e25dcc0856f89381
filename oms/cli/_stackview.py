"""CLI room (stack helper): the views of `oms status` and the demo flow of `oms run`.

Touches supervisord (XML-RPC on the stack's unix socket), /dev/shm rings (read-only depth), the
monitor's /health, and for the demo the gateway (gRPC via oms.client) plus the gateway's token file
(one demo token, revoked at the end). Split out of oms/cli/stack.py to keep modules small.
"""

from __future__ import annotations

import json
import os
from typing import Any

from oms import pinning
from oms.cli.stack import StackPaths, load_config, module_exists, rpc
from oms.testing import NotYet, eventually


# ---- status view --------------------------------------------------------------------------------
def input_rings(program: str, prefix: str, venues: list[str]) -> list[tuple[str, Any]]:
    """The rings a program consumes (oms/shm/names.py), for the depth column."""
    from oms.shm import names
    from oms.shm.records import COMMAND, EVENT, MARKET

    if program == "engine":
        rings = [
            (names.gateway_commands(prefix), COMMAND),
            (names.bridge_commands(prefix), COMMAND),
            (names.market_data_to_engine(prefix), MARKET),
        ]
        return rings + [(names.venue_exec_events(v, prefix), EVENT) for v in venues]
    if program == "gateway":
        return [(names.engine_events_to_gateway(prefix), EVENT)]
    if program == "bridge":
        return [(names.engine_events_to_bridge(prefix), EVENT)]
    if program == "marketdata":
        return [(names.venue_market_data(v, prefix), MARKET) for v in venues]
    if program.startswith("conn-"):
        return [(names.engine_commands_to_venue(program[5:], prefix), COMMAND)]
    return []


def _affinity(pid: int) -> str:
    try:
        cores = sorted(os.sched_getaffinity(pid))
    except OSError:
        return "?"
    return ",".join(map(str, cores)) if len(cores) < len(pinning.available_cores()) else "any"


def _uptime(secs: int) -> str:
    h, rem = divmod(max(0, secs), 3600)
    return f"{h}:{rem // 60:02d}:{rem % 60:02d}"


def status_rows(paths: StackPaths, stack: dict[str, Any]) -> list[dict[str, Any]]:
    from oms.monitor.rings import RingWatcher

    prefix, venues = stack.get("prefix", "oms"), stack.get("venues", ["binance"])
    rows = []
    for info in rpc(paths).getAllProcessInfo():
        name, pid = info["name"], int(info["pid"])
        rings = input_rings(name, prefix, venues)
        depth = ""
        if rings:
            watcher = RingWatcher(rings)
            st = watcher.poll()
            watcher.close()
            present = [r for r in st if r.present]
            depth = " ".join(f"{r.name.removeprefix(prefix + '.')}={r.depth}" for r in present) or "no rings"
        planned = stack.get("programs", {}).get(name, {})
        rows.append(
            {
                "program": name,
                "pid": pid or None,
                "state": info["statename"],
                "core": _affinity(pid) if pid else "-",
                "planned_core": planned.get("core"),
                "uptime": _uptime(int(info["now"]) - int(info["start"])) if pid else "-",
                "rings": depth,
                "description": info["description"],
            }
        )
    return rows


def print_status(paths: StackPaths, stack: dict[str, Any], as_json: bool = False) -> int:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    rows = status_rows(paths, stack)
    left = stack.get("left_out", {})
    errors = stack.get("start_errors", {})
    if as_json:
        print(json.dumps({"programs": rows, "left_out": left, "start_errors": errors}, indent=2))
    else:
        t = Table(title=f"oms stack ({paths.root}) - monitor {stack.get('monitor_url', '?')}")
        for col in ("program", "pid", "core", "state", "uptime", "ring depths (input)"):
            t.add_column(col)
        colour = {"RUNNING": "green", "STARTING": "yellow", "BACKOFF": "yellow"}
        for r in rows:
            st = f"[{colour.get(r['state'], 'red')}]{r['state']}[/]"
            t.add_row(r["program"], str(r["pid"] or "-"), r["core"], st, r["uptime"], r["rings"])
        con = Console()
        con.print(t)
        for name, why in left.items():
            con.print(f"[yellow]left out[/] {name}: {escape(why)}")
        for name, why in errors.items():
            con.print(f"[red]did not start[/] {name}: {escape(why)}")
        notes = [f"{n}: {p['note']}" for n, p in stack.get("programs", {}).items() if p.get("note")]
        if notes:
            con.print(
                "[yellow]core plan:[/] this machine has cores "
                + ",".join(map(str, stack.get("cores", [])))
                + "; "
                + "; ".join(notes)
                + " (busy loops back off instead of spinning)"
            )
    return 0 if all(r["state"] == "RUNNING" for r in rows) else 1


def wait_healthy(monitor_url: str, timeout: float = 60.0) -> dict[str, Any]:
    """Wait until the monitor answers /health (200 or 503 both mean it is up) and return the body."""
    import urllib.error
    import urllib.request

    def probe() -> dict[str, Any] | None:
        try:
            with urllib.request.urlopen(monitor_url + "/health", timeout=1) as r:
                return json.loads(r.read())
        except urllib.error.HTTPError as e:
            return json.loads(e.read()) if e.code == 503 else None

    return eventually(probe, timeout=timeout, interval=0.1, max_interval=1.0, message="monitor /health")


def demo_flow(paths: StackPaths, stack: dict[str, Any]) -> bool:
    """A few orders through the gateway client (oms.client) when it and the gateway exist."""
    if not module_exists("oms.client") or "gateway" not in stack.get("programs", {}):
        missing = [
            m
            for m, ok in (
                ("oms/client", module_exists("oms.client")),
                ("gateway program", "gateway" in stack.get("programs", {})),
            )
            if not ok
        ]
        print(f"demo flow skipped: {', '.join(missing)} not present yet (the stack itself is up)")
        return False
    return _demo_with_client(stack)


def _submit_when_up(c: Any, kw: dict[str, str]) -> Any:
    """Submit, waiting (up to 60 s) while the gateway or the engine is still starting (UNAVAILABLE)."""
    from oms.client import ClientError

    def attempt() -> Any:
        try:
            return c.submit(account=1, venue="binance", symbol="BTC/USDT", side="buy", **kw)
        except ClientError as e:
            if e.code == "UNAVAILABLE":
                return None
            raise

    try:
        return eventually(attempt, timeout=60, interval=0.2, max_interval=1.0, stop_on=(ClientError,))
    except NotYet:  # still unavailable: one last try gives the caller the gateway's own message
        return c.submit(account=1, venue="binance", symbol="BTC/USDT", side="buy", **kw)


def _names() -> tuple[Any, Any, Any]:
    """(event kind name, order status name, reason name) functions for the demo table."""
    from oms.api.gen.oms.v1 import types_pb2 as pb
    from oms.engine import constants as C

    status = {
        v: k.removeprefix("ST_") for k, v in vars(C).items() if k.startswith("ST_") and isinstance(v, int)
    }

    def kind(k: int) -> str:
        return pb.EventKind.Name(k).removeprefix("EVENT_KIND_") if k in pb.EventKind.values() else str(k)

    return kind, lambda st: status.get(st, str(st)), C.reason_name


def _limit_price(c: Any) -> str:
    """0.5 % under the best bid (inside the engine's price-deviation band, far enough not to fill)."""
    from decimal import ROUND_DOWN, Decimal

    bbo = eventually(lambda: c.bbo("binance", "BTC/USDT", market="spot"), timeout=30, interval=0.5)
    return str((Decimal(bbo.bid_price) * Decimal("0.995")).quantize(Decimal("0.01"), rounding=ROUND_DOWN))


def _demo_with_client(stack: dict[str, Any]) -> bool:
    """A market buy that fills on the simulator, a resting limit buy under the bid, then its cancel."""
    from rich.console import Console
    from rich.table import Table

    from oms.api.certs import CertPaths
    from oms.api.tokens import TokenStore
    from oms.client import Client, ClientError

    cfg = load_config(stack.get("config"))
    if cfg is None:
        print("demo flow skipped: no configuration loader")
        return False
    kind, status, reason = _names()
    gs = cfg.section("gateway")
    store = TokenStore(str(cfg.resolve_path(gs.tokens_file)))
    rec, token = store.add("oms-run-demo", ["trader"], [1], rate=50.0, burst=50)
    ca = CertPaths(cfg.resolve_path(gs.cert).parent).ca_cert
    rows: list[tuple[str, str, str, str]] = []
    ok = True
    terminal_or = {"market": (4, 6, 8, 9), "limit": (2, 3, 4, 6, 8, 9)}  # FILLED..., ACCEPTED for the limit
    try:
        with Client(stack["gateway"], token=token, ca=str(ca), timeout=5.0) as c:
            orders = [("market buy 0.001 BTC/USDT", {"order_type": "market", "quantity": "0.001"})]
            try:
                px = _limit_price(c)
                orders.append(
                    (
                        f"limit buy 0.01 BTC/USDT @ {px}",
                        {"order_type": "limit", "price": px, "quantity": "0.01"},
                    )
                )
            except (ClientError, NotYet) as e:
                rows.append(
                    ("limit buy (needs the BBO)", "-", "skipped", f"no BBO from the gateway: {e}"[:120])
                )
            acks = []
            for label, kw in orders:
                try:
                    ack = _submit_when_up(c, kw)
                    acks.append((label, kw["order_type"], ack.client_order_id))
                    why = ack.error or (reason(ack.reason) if ack.reason else "")
                    rows.append((label, str(ack.client_order_id), kind(ack.kind), why))
                except ClientError as e:
                    ok = False
                    rows.append((label, "-", "refused", str(e)))
            for label, otype, coid in acks:
                try:
                    o = eventually(
                        lambda coid=coid, t=otype: (o := c.get_order(1, coid)).status in terminal_or[t] and o,
                        timeout=20,
                        interval=0.1,
                    )
                    rows.append((label, str(coid), status(o.status), f"filled {o.cum_quantity}"))
                    ok = ok and o.status in (2, 3, 4)
                except (ClientError, NotYet) as e:
                    ok = False
                    rows.append((label, str(coid), "no final state", str(e)[:120]))
            resting = [coid for _, otype, coid in acks if otype == "limit"]
            for coid in resting:
                try:
                    c.cancel(1, coid, venue="binance", symbol="BTC/USDT")
                    o = eventually(
                        lambda coid=coid: (o := c.get_order(1, coid)).status in (6, 8, 9) and o,
                        timeout=20,
                        interval=0.1,
                    )
                    rows.append(("cancel the resting limit", str(coid), "cancel sent", status(o.status)))
                except (ClientError, NotYet) as e:
                    ok = False
                    rows.append(("cancel the resting limit", str(coid), "refused", str(e)[:120]))
    finally:
        store.revoke(rec.id)
    t = Table(title=f"demo flow through the gateway {stack['gateway']}")
    for col in ("step", "client order id", "answer", "detail"):
        t.add_column(col)
    for r in rows:
        t.add_row(*r)
    Console().print(t)
    return ok
