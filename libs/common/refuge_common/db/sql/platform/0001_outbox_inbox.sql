-- Transactional outbox: events written in the same transaction as the state
-- they describe; the relay publishes them in id order per key, then deletes them.
CREATE TABLE outbox (
    id          bigserial PRIMARY KEY,
    topic       text        NOT NULL,
    key         bytea       NOT NULL,
    value       bytea       NOT NULL,
    headers     jsonb       NOT NULL,
    event_id    text        NOT NULL,
    event_type  text        NOT NULL,
    tenant_id   uuid,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX outbox_key_id ON outbox (key, id);

-- One NOTIFY "<schema>_<table>" per inserting statement wakes the loop that drains
-- the table (refuge_common.db.wakeup); polling covers lost wake-ups.
CREATE FUNCTION notify_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify(TG_TABLE_SCHEMA || '_' || TG_TABLE_NAME, '');
    RETURN NULL;
END $$;
CREATE TRIGGER outbox_notify AFTER INSERT ON outbox
    FOR EACH STATEMENT EXECUTE FUNCTION notify_insert();

-- Idempotent consumers: (consumer, source, id) of every event applied, written in
-- the transaction that applies it.
CREATE TABLE inbox (
    consumer     text        NOT NULL,
    source       text        NOT NULL,
    event_id     text        NOT NULL,
    event_type   text        NOT NULL,
    processed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, source, event_id)
);

-- Tenancy: the tenant of the current transaction (SET LOCAL refuge.tenant_id), and the
-- forced row-level security every tenant table of every service gets.
CREATE FUNCTION current_tenant() RETURNS uuid LANGUAGE sql STABLE AS
    $$ SELECT nullif(current_setting('refuge.tenant_id', true), '')::uuid $$;

CREATE FUNCTION isolate_tenant(tenant_table regclass) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', tenant_table);
    EXECUTE format('ALTER TABLE %s FORCE ROW LEVEL SECURITY', tenant_table);
    EXECUTE format('CREATE POLICY tenant_isolation ON %s USING (tenant_id = current_tenant())
                    WITH CHECK (tenant_id = current_tenant())', tenant_table);
END $$;
