-- Idempotency-Key records are kept for a retention period (INTAKE_IDEMPOTENCY_RETENTION_HOURS),
-- then purged: a client retries within minutes, and the table must not grow for ever.
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);

-- The purge spans every tenant, which the service's role cannot do under RLS. As for
-- authenticate_api_key, one function owned by the schema owner does this one thing:
-- delete records older than the retention, a batch at a time.
DO $$ BEGIN
    EXECUTE format('CREATE POLICY retention_purge ON idempotency_keys FOR ALL TO %I USING (true)',
                   current_user);
END $$;
CREATE FUNCTION purge_idempotency_keys(p_older_than interval, p_batch integer)
RETURNS integer LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog AS $$
    WITH expired AS (
        SELECT ctid FROM intake.idempotency_keys
        WHERE created_at < now() - p_older_than
        ORDER BY created_at LIMIT p_batch
        FOR UPDATE SKIP LOCKED
    ), purged AS (
        DELETE FROM intake.idempotency_keys k USING expired e WHERE k.ctid = e.ctid RETURNING 1
    )
    SELECT count(*)::integer FROM purged
$$;
