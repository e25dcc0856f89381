-- The audit head is advanced by the database, not by the writer: programs log in as a role that may only
-- INSERT and SELECT audit_log (and SELECT audit_head), so they cannot move the head, rewrite rows or drop
-- the triggers (only the owner can). The trigger runs as the owner (SECURITY DEFINER) and also refuses a
-- row that does not extend the chain (wrong id or prev_hash). Writers serialise on an advisory lock.
-- Row hashes are HMAC-SHA256 under a key held outside the database (oms/store/audit.py).
CREATE FUNCTION audit_log_advance_head() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, public AS $$
DECLARE
    h_id   bigint;
    h_hash bytea;
BEGIN
    SELECT last_id, last_hash INTO h_id, h_hash FROM public.audit_head WHERE one FOR UPDATE;
    IF NEW.id <> h_id + 1 OR NEW.prev_hash <> h_hash THEN
        RAISE EXCEPTION 'audit_log row % does not extend the chain (head is row %)', NEW.id, h_id;
    END IF;
    UPDATE public.audit_head SET last_id = NEW.id, last_hash = NEW.hash WHERE one;
    RETURN NEW;
END $$;
REVOKE ALL ON FUNCTION audit_log_advance_head() FROM PUBLIC;

CREATE TRIGGER audit_log_advance BEFORE INSERT ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_advance_head();

CREATE FUNCTION audit_head_owner_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF pg_trigger_depth() < 2 THEN
        RAISE EXCEPTION 'audit_head moves only when audit_log grows (% refused)', TG_OP;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER audit_head_guard BEFORE UPDATE OR DELETE ON audit_head
    FOR EACH ROW EXECUTE FUNCTION audit_head_owner_only();
