-- Audit log: append-only rows in a hash chain. hash = sha256(prev_hash || canonical row bytes), computed
-- by oms.store.audit; prev_hash of row 1 is 32 zero bytes. audit_head holds the last id and hash so a
-- removed tail is detected too. UPDATE/DELETE/TRUNCATE on audit_log are refused by triggers.
CREATE TABLE audit_log (
    id        bigint PRIMARY KEY,
    ts_ns     bigint NOT NULL,
    actor     text   NOT NULL,
    action    text   NOT NULL,
    subject   text   NOT NULL,
    detail    text   NOT NULL,          -- canonical JSON (sorted keys), hashed byte for byte
    ext_id    text   UNIQUE,            -- sender's id for records that came through NATS (de-dup)
    prev_hash bytea  NOT NULL,
    hash      bytea  NOT NULL
);

CREATE TABLE audit_head (
    one       boolean PRIMARY KEY DEFAULT true CHECK (one),
    last_id   bigint NOT NULL,
    last_hash bytea  NOT NULL
);
INSERT INTO audit_head (one, last_id, last_hash) VALUES (true, 0, '\x0000000000000000000000000000000000000000000000000000000000000000');

CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only (% refused)', TG_OP;
END $$;

CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
