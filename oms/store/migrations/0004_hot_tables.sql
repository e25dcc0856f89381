-- Hot-path table layout (issue 21). `orders` is upserted for every order of every recorded batch: with
-- free space left in each page (fillfactor 70) those updates are HOT (heap-only: no new index entry,
-- the PK index is not touched), so the upsert costs one heap page write instead of a heap and an index
-- write and the table does not bloat between vacuums.
ALTER TABLE orders SET (fillfactor = 70);
-- `events` and `fills` are append-only: vacuum them for visibility (index-only scans of the recorder's
-- catch-up queries) after inserts, not only after updates that never come.
ALTER TABLE events SET (autovacuum_vacuum_insert_scale_factor = 0.05);
ALTER TABLE fills SET (autovacuum_vacuum_insert_scale_factor = 0.05);
