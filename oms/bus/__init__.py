"""Bus room: everything that leaves the box goes through NATS / JetStream.

Touches NATS, the bridge's rings and its spool directory. Modules: `subjects` (subject grammar and
stream names), `frames` (OMSF: many records per message), `streams` (per-exchange JetStream streams,
created/updated idempotently), `publish` + `spool` (batched async publish, bounded in-flight acks, disk
spool while NATS is down), `bridge` (events ring → JetStream), `intake` (NATS commands → command ring),
`audit` (audit records over NATS), `settings` (`[bus]`). User documentation: docs/bus.md.
"""
