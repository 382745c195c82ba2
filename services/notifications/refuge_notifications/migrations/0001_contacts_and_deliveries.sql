CREATE TABLE organisations (
    organisation_id  uuid PRIMARY KEY,
    tenant_id        uuid NOT NULL,
    name             text NOT NULL,
    default_language text NOT NULL
);

-- Staff contact read-model: contact details stay sealed under the staff member's key.
CREATE TABLE staff_contacts (
    staff_id           uuid PRIMARY KEY,
    tenant_id          uuid NOT NULL,
    office_id          uuid,
    role               text NOT NULL,
    preferred_language text NOT NULL,
    timezone           text,
    contact            jsonb
);

SELECT isolate_tenant(t) FROM unnest(ARRAY['organisations', 'staff_contacts']::regclass[]) AS t;

-- The delivery log: one row per (triggering event, recipient, channel), written
-- before any provider call. Read across tenants by the dispatcher; ids only.
CREATE TABLE deliveries (
    delivery_id      uuid PRIMARY KEY,
    tenant_id        uuid NOT NULL,
    idempotency_key  text NOT NULL UNIQUE,
    trigger_event_id text NOT NULL,
    trigger_source   text NOT NULL,
    channel          text NOT NULL,
    recipient_kind   text NOT NULL,
    recipient_id     uuid NOT NULL,
    template         text NOT NULL,
    context          jsonb NOT NULL,
    case_id          uuid,
    deadline_id      uuid,
    status           text NOT NULL DEFAULT 'pending',
    attempts         integer NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    lease_until      timestamptz,
    last_error       text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    sent_at          timestamptz
);
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE status IN ('pending', 'sending');
CREATE INDEX deliveries_case ON deliveries (case_id);

CREATE TRIGGER deliveries_notify AFTER INSERT ON deliveries
    FOR EACH STATEMENT EXECUTE FUNCTION notify_insert();
