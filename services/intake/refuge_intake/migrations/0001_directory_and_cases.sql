-- Every tenant table carries tenant_id (the organisation) and forces row-level
-- security: the application role sees only the tenant set by SET LOCAL.
CREATE TABLE organisations (
    organisation_id  uuid PRIMARY KEY,
    tenant_id        uuid NOT NULL,
    name             text NOT NULL,
    default_language text NOT NULL DEFAULT 'fr',
    created_at       timestamptz NOT NULL DEFAULT now(),
    CHECK (tenant_id = organisation_id)
);

CREATE TABLE offices (
    office_id    uuid PRIMARY KEY,
    tenant_id    uuid NOT NULL REFERENCES organisations (organisation_id),
    name         text NOT NULL,
    kind         text NOT NULL,
    timezone     text NOT NULL,
    jurisdiction text NOT NULL,
    closed_at    timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE staff (
    staff_id           uuid PRIMARY KEY,
    tenant_id          uuid NOT NULL REFERENCES organisations (organisation_id),
    office_id          uuid REFERENCES offices (office_id),
    role               text NOT NULL,
    preferred_language text NOT NULL DEFAULT 'fr',
    contact            jsonb,          -- Sealed: name, email, phone under the staff member's key
    removed_at         timestamptz,
    created_at         timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE api_keys (
    key_id      text PRIMARY KEY,      -- public part of the key, shown in lists
    tenant_id   uuid NOT NULL REFERENCES organisations (organisation_id),
    secret_hash bytea NOT NULL,        -- SHA-256 of the secret part
    role        text NOT NULL,
    office_id   uuid REFERENCES offices (office_id),
    staff_id    uuid REFERENCES staff (staff_id),
    label       text NOT NULL DEFAULT '',
    expires_at  timestamptz,
    revoked_at  timestamptz,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE cases (
    case_id       uuid PRIMARY KEY,
    tenant_id     uuid NOT NULL REFERENCES organisations (organisation_id),
    office_id     uuid NOT NULL REFERENCES offices (office_id),
    case_type     text NOT NULL,
    jurisdiction  text NOT NULL,
    channel       text NOT NULL,
    person_id     uuid,
    caseworker_id uuid REFERENCES staff (staff_id),
    status        text NOT NULL DEFAULT 'open',
    opened_at     timestamptz NOT NULL,
    closed_at     timestamptz,
    version       integer NOT NULL DEFAULT 0
);
CREATE INDEX cases_tenant_office ON cases (tenant_id, office_id, opened_at);

-- The case's facts in the order they were recorded: the timeline.
CREATE TABLE case_facts (
    fact_id     bigserial PRIMARY KEY,
    tenant_id   uuid NOT NULL,
    case_id     uuid NOT NULL REFERENCES cases (case_id),
    event_id    text NOT NULL,
    event_type  text NOT NULL,
    data        jsonb NOT NULL,
    recorded_by text NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX case_facts_case ON case_facts (case_id, fact_id);

SELECT isolate_tenant(t)
FROM unnest(ARRAY['organisations', 'offices', 'staff', 'api_keys', 'cases', 'case_facts']::regclass[]) AS t;

-- Authenticating a key happens before the tenant is known: this one function,
-- owned by the schema owner, reads a key row by its id, and nothing else. The
-- policy lets the owner (and only it) read keys across tenants for that purpose.
DO $$ BEGIN
    EXECUTE format('CREATE POLICY key_authentication ON api_keys FOR SELECT TO %I USING (true)',
                   current_user);
END $$;
CREATE FUNCTION authenticate_api_key(p_key_id text)
RETURNS TABLE (tenant_id uuid, secret_hash bytea, role text, office_id uuid, staff_id uuid,
               expires_at timestamptz, revoked_at timestamptz)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog AS $$
    SELECT k.tenant_id, k.secret_hash, k.role, k.office_id, k.staff_id, k.expires_at, k.revoked_at
    FROM intake.api_keys k WHERE k.key_id = p_key_id
$$;
