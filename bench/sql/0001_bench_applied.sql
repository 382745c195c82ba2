-- What the consumer_apply benchmark's trivial handler writes: one row per event,
-- tenant-scoped under forced row-level security like every service table
-- (current_tenant() and isolate_tenant() come with the platform SQL).
CREATE TABLE applied (
    consumer   text        NOT NULL,
    event_id   text        NOT NULL,
    tenant_id  uuid        NOT NULL,
    case_id    uuid        NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);
SELECT isolate_tenant('applied');
