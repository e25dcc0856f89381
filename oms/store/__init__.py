"""Store room: PostgreSQL (schema migrations, idempotent COPY writers, hash-chained audit log) and the
Redis hot cache, plus the recorder's logic that feeds them from JetStream.

Touches the databases it is pointed at. Modules: `migrate` (+ `migrations/*.sql`), `writer`, `audit`,
`cache`, `recorder`, `settings` (`[store]`). User documentation: docs/bus.md.
"""
