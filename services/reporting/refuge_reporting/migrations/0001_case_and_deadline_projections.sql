-- One row per case, as the events describe it; figures are queries over it.
CREATE TABLE case_facts (
    case_id      uuid PRIMARY KEY,
    tenant_id    uuid NOT NULL,
    office_id    uuid NOT NULL,
    case_type    text NOT NULL,
    jurisdiction text NOT NULL,
    channel      text NOT NULL,
    opened_at    timestamptz NOT NULL,
    closed_at    timestamptz,
    outcome      text
);
CREATE INDEX case_facts_tenant_opened ON case_facts (tenant_id, opened_at);

CREATE TABLE deadline_facts (
    deadline_id uuid PRIMARY KEY,
    tenant_id   uuid NOT NULL,
    case_id     uuid NOT NULL,
    office_id   uuid,
    purpose     text NOT NULL,
    due         timestamptz NOT NULL,
    status      text NOT NULL DEFAULT 'open',
    computed_at timestamptz NOT NULL
);
CREATE INDEX deadline_facts_tenant ON deadline_facts (tenant_id, computed_at);

SELECT isolate_tenant(t) FROM unnest(ARRAY['case_facts', 'deadline_facts']::regclass[]) AS t;
