-- Our copy of what we need from refuge.directory.v1 and refuge.cases.v1.
CREATE TABLE offices (
    office_id    uuid PRIMARY KEY,
    tenant_id    uuid NOT NULL,
    timezone     text NOT NULL,
    jurisdiction text NOT NULL
);

CREATE TABLE cases (
    case_id       uuid PRIMARY KEY,
    tenant_id     uuid NOT NULL,
    office_id     uuid NOT NULL,
    jurisdiction  text NOT NULL,
    person_id     uuid,
    caseworker_id uuid,
    status        text NOT NULL DEFAULT 'open'
);

CREATE TABLE deadlines (
    deadline_id      uuid PRIMARY KEY,
    tenant_id        uuid NOT NULL,
    case_id          uuid NOT NULL REFERENCES cases (case_id),
    office_id        uuid,
    purpose          text NOT NULL,
    rule             text NOT NULL,
    legal_basis      text NOT NULL,
    due              timestamptz NOT NULL,
    timezone         text NOT NULL,
    alternative      text,
    status           text NOT NULL DEFAULT 'open',
    trigger_event_id text NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX deadlines_case ON deadlines (case_id);
CREATE INDEX deadlines_office_due ON deadlines (office_id, due) WHERE status = 'open';

SELECT isolate_tenant(t) FROM unnest(ARRAY['offices', 'cases', 'deadlines']::regclass[]) AS t;

-- Durable timers. Like the outbox, a platform table read across tenants by the
-- timer worker: it holds ids and instants only, and the reminder.due data to emit.
CREATE TABLE reminders (
    reminder_id uuid PRIMARY KEY,
    tenant_id   uuid NOT NULL,
    deadline_id uuid NOT NULL REFERENCES deadlines (deadline_id),
    remind_at   timestamptz NOT NULL,
    "offset"    text NOT NULL,
    status      text NOT NULL DEFAULT 'pending',
    payload     jsonb NOT NULL,
    fired_at    timestamptz
);
CREATE INDEX reminders_pending ON reminders (remind_at) WHERE status = 'pending';
CREATE INDEX reminders_deadline ON reminders (deadline_id);

CREATE TRIGGER reminders_notify AFTER INSERT ON reminders
    FOR EACH STATEMENT EXECUTE FUNCTION notify_insert();
