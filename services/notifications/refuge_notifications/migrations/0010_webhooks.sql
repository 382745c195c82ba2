-- Webhooks (issue 7): an organisation's endpoints, one delivery per (event, endpoint), and
-- the queue the delivery loop claims from.

-- An endpoint of one organisation. scope: office_id NULL = the whole organisation.
-- secret: the Standard Webhooks signing secret(s), sealed (AES-256-GCM) under the
-- organisation's data key (adapters/org_secrets.py), never in clear. previous_valid_until:
-- after a rotation the previous secret also signs until then (zero-downtime rotation).
CREATE TABLE webhook_endpoints (
    endpoint_id          uuid PRIMARY KEY,
    tenant_id            uuid NOT NULL,
    url                  text NOT NULL,
    description          text,
    event_types          text[] NOT NULL,
    office_id            uuid,
    secret               jsonb NOT NULL,
    previous_valid_until timestamptz,
    enabled              boolean NOT NULL DEFAULT true,
    disabled_reason      text,
    disabled_at          timestamptz,
    consecutive_failures integer NOT NULL DEFAULT 0,
    failing_since        timestamptz,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_endpoints_tenant ON webhook_endpoints (tenant_id) WHERE enabled;

-- One row per (event source + id, endpoint): the CloudEvent (attributes and data, as the
-- contract publishes it) and where its delivery stands.
--   pending:   waiting for an attempt (first, retry or redelivery); has a queue row
--   succeeded: the endpoint answered 2xx
--   failed:    given up (attempts exhausted, or an answer that retrying cannot change)
--   paused:    its endpoint was disabled before it succeeded; enabling resumes it
CREATE TABLE webhook_deliveries (
    delivery_id      uuid PRIMARY KEY,
    tenant_id        uuid NOT NULL,
    endpoint_id      uuid NOT NULL REFERENCES webhook_endpoints (endpoint_id) ON DELETE CASCADE,
    event_source     text NOT NULL,
    event_id         text NOT NULL,
    event_type       text NOT NULL,
    event            jsonb NOT NULL,
    status           text NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'succeeded', 'failed', 'paused')),
    attempts         integer NOT NULL DEFAULT 0,
    redeliveries     integer NOT NULL DEFAULT 0,
    last_status_code integer,
    last_error       text,
    last_attempt_at  timestamptz,
    succeeded_at     timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (endpoint_id, event_source, event_id)
);
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, created_at DESC);

-- case -> office, from case.opened / case.transferred, so that an office-scoped endpoint
-- gets the events of its office's cases that do not name the office themselves.
CREATE TABLE webhook_case_offices (
    case_id   uuid PRIMARY KEY,
    tenant_id uuid NOT NULL,
    office_id uuid NOT NULL
);

SELECT isolate_tenant(t)
FROM unnest(ARRAY['webhook_endpoints', 'webhook_deliveries', 'webhook_case_offices']::regclass[]) AS t;

-- Like the outbox and the reminders, a platform table read across tenants by the delivery
-- loop: ids and instants only. A row exists while its delivery is pending; claiming sets a
-- lease and a token that fences a loop whose lease lapsed.
CREATE TABLE webhook_queue (
    delivery_id     uuid PRIMARY KEY REFERENCES webhook_deliveries (delivery_id) ON DELETE CASCADE,
    tenant_id       uuid NOT NULL,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    lease_until     timestamptz,
    claim_token     uuid
);
CREATE INDEX webhook_queue_due ON webhook_queue (next_attempt_at);

CREATE TRIGGER webhook_queue_notify AFTER INSERT ON webhook_queue
    FOR EACH STATEMENT EXECUTE FUNCTION notify_insert();
