-- The facts of each case that deadlines depend on, in case order: every fact
-- recomputes the case's whole plan from them (domain/planning.py).
CREATE TABLE case_facts (
    seq        bigserial PRIMARY KEY,
    tenant_id  uuid NOT NULL,
    case_id    uuid NOT NULL REFERENCES cases (case_id),
    event_id   text NOT NULL,
    kind       text NOT NULL,
    data       jsonb NOT NULL,
    UNIQUE (case_id, event_id)
);
SELECT isolate_tenant('case_facts');

ALTER TABLE cases ADD COLUMN closed boolean NOT NULL DEFAULT false;

-- A deadline's identity in its case's plan is its key (rule@trigger, hearing@id);
-- deadline_id is derived from it, so recomputation finds the same row.
ALTER TABLE deadlines
    ADD COLUMN key             text,
    ADD COLUMN met_at          timestamptz,
    ADD COLUMN met_by_event_id text,
    ADD COLUMN missed_at       timestamptz,
    ADD COLUMN cancel_reason   text,
    ADD COLUMN superseded_by   uuid,
    ADD COLUMN updated_at      timestamptz NOT NULL DEFAULT now();
UPDATE deadlines SET key = rule || '@' || trigger_event_id WHERE key IS NULL;
ALTER TABLE deadlines ALTER COLUMN key SET NOT NULL;
ALTER TABLE deadlines ADD CONSTRAINT deadlines_case_key UNIQUE (case_id, key);

-- Timers are reminders (reminder.due) or the expiry of a deadline (deadline.missed).
ALTER TABLE reminders ADD COLUMN kind text NOT NULL DEFAULT 'reminder';
