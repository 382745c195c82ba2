-- What the facts of a case change on it, the state later facts are checked against
-- (hearings, consents, detention), litigation details that never go on a topic, and
-- the Idempotency-Key record of every write.

-- A case is open or closed; closed_at and the outcome are set by case.closed only.
ALTER TABLE cases
    ADD COLUMN outcome        text,
    ADD COLUMN detained_since timestamptz,    -- set by detention_started, cleared by _ended
    ADD CONSTRAINT cases_status CHECK (status IN ('open', 'closed')),
    ADD CONSTRAINT cases_closed CHECK ((status = 'closed') = (closed_at IS NOT NULL));
-- GET /cases pages newest first on (opened_at, case_id): the keyset is this index.
CREATE INDEX cases_tenant_opened ON cases (tenant_id, opened_at DESC, case_id DESC);

-- Each hearing across its reschedulings, so that a reschedule, cancellation or
-- "held" names a hearing the case has, in a state that allows it.
CREATE TABLE case_hearings (
    hearing_id   uuid PRIMARY KEY,
    tenant_id    uuid NOT NULL,
    case_id      uuid NOT NULL REFERENCES cases (case_id),
    scheduled_at timestamptz NOT NULL,
    status       text NOT NULL CHECK (status IN ('scheduled', 'cancelled', 'held')),
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX case_hearings_case ON case_hearings (case_id);

-- The current consent per purpose: the last one recorded (recorded_at never goes back).
CREATE TABLE case_consents (
    tenant_id   uuid NOT NULL,
    case_id     uuid NOT NULL REFERENCES cases (case_id),
    purpose     text NOT NULL,
    given       boolean NOT NULL,
    recorded_at timestamptz NOT NULL,
    event_id    text NOT NULL,
    PRIMARY KEY (case_id, purpose)
);

-- Court proceedings. The v1 contract carries a court name on hearings and filings and
-- nothing else: a docket number leads to the parties' names on a public docket, and
-- counsel are named people, so these stay here and are never published.
CREATE TABLE case_litigation (
    case_id       uuid PRIMARY KEY REFERENCES cases (case_id),
    tenant_id     uuid NOT NULL,
    court         text NOT NULL,
    docket_number text,
    filed_on      date,
    class_action  boolean NOT NULL DEFAULT false,
    counsel       jsonb NOT NULL DEFAULT '[]',
    updated_by    text NOT NULL,
    updated_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE litigation_developments (
    development_id bigserial PRIMARY KEY,
    tenant_id      uuid NOT NULL,
    case_id        uuid NOT NULL REFERENCES cases (case_id),
    occurred_on    date NOT NULL,
    kind           text NOT NULL,
    docket_entry   integer,
    summary        text NOT NULL,
    recorded_by    text NOT NULL,
    recorded_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX litigation_developments_case ON litigation_developments (case_id, occurred_on, development_id);

-- One row per (tenant, API key, Idempotency-Key), written in the transaction of the
-- write it guards: claimed first (a concurrent retry waits on the primary key), then
-- completed with the answer. A write that fails rolls its claim back with it.
CREATE TABLE idempotency_keys (
    tenant_id       uuid NOT NULL,
    key_id          text NOT NULL,         -- the caller's API key (a token names the same key)
    idempotency_key text NOT NULL,
    fingerprint     bytea NOT NULL,        -- SHA-256 of method, path and canonical body
    status_code     smallint,
    response        jsonb,                 -- the body, or a Sealed copy when it holds personal data
    response_sealed boolean NOT NULL DEFAULT false,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, key_id, idempotency_key)
);

SELECT isolate_tenant(t)
FROM unnest(ARRAY['case_hearings', 'case_consents', 'case_litigation', 'litigation_developments',
                  'idempotency_keys']::regclass[]) AS t;
