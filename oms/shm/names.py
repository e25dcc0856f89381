"""Ring-name room: the one place that says which ring connects which two processes.

Touches nothing. Every ring is SPSC, so each name below has exactly one producer and one consumer.
`prefix` (default "oms", from config `[shm].prefix`; tests pass a unique one) namespaces a whole stack
so two stacks (or a test and a running stack) never share a segment. Names become /dev/shm files.

| ring                          | dtype   | producer         | consumer      |
|-------------------------------|---------|------------------|---------------|
| {p}.gw.cmd                    | COMMAND | gateway          | engine        |
| {p}.bridge.cmd                | COMMAND | bridge (NATS in) | engine        |
| {p}.eng.events.gw             | EVENT   | engine           | gateway       |
| {p}.eng.events.bridge         | EVENT   | engine           | bridge        |
| {p}.eng.cmd.{venue}           | COMMAND | engine           | conn-{venue}  |
| {p}.conn.{venue}.exec         | EVENT   | conn-{venue}     | engine        |
| {p}.conn.{venue}.md           | MARKET  | conn-{venue}     | marketdata    |
| {p}.md.engine                 | MARKET  | marketdata       | engine        |
| {p}.md.bridge                 | MARKET  | marketdata       | bridge (BBO + trades → NATS market.*; lossy) |
| {p}.table.bbo                 | BBO table (seqlock): each connector writes its own instruments' rows |
|                               | (one writer per row); engine, gateway, marketdata read        |
"""

from __future__ import annotations


def gateway_commands(prefix: str = "oms") -> str:
    return f"{prefix}.gw.cmd"


def bridge_commands(prefix: str = "oms") -> str:
    return f"{prefix}.bridge.cmd"


def engine_events_to_gateway(prefix: str = "oms") -> str:
    return f"{prefix}.eng.events.gw"


def engine_events_to_bridge(prefix: str = "oms") -> str:
    return f"{prefix}.eng.events.bridge"


def engine_commands_to_venue(venue: str, prefix: str = "oms") -> str:
    return f"{prefix}.eng.cmd.{venue}"


def venue_exec_events(venue: str, prefix: str = "oms") -> str:
    return f"{prefix}.conn.{venue}.exec"


def venue_market_data(venue: str, prefix: str = "oms") -> str:
    return f"{prefix}.conn.{venue}.md"


def market_data_to_engine(prefix: str = "oms") -> str:
    return f"{prefix}.md.engine"


def market_data_to_bridge(prefix: str = "oms") -> str:
    return f"{prefix}.md.bridge"


def bbo_table(prefix: str = "oms") -> str:
    return f"{prefix}.table.bbo"
