-- Beneficiaries. The coarse attributes statistics and reminders need are columns;
-- everything identifying (names, birth date or year, phone, e-mail, address) is only
-- in personal_data, sealed under the person's own key in the keyring. Erasure deletes
-- that key and clears personal_data in one transaction; the row stays, so that cases
-- and the audit log keep pointing at an id that no longer names anyone.
CREATE TABLE persons (
    person_id           uuid PRIMARY KEY,
    tenant_id           uuid NOT NULL REFERENCES organisations (organisation_id),
    office_id           uuid NOT NULL REFERENCES offices (office_id),
    gender              text NOT NULL,
    nationalities       text[] NOT NULL DEFAULT '{}',
    stateless           boolean,
    unaccompanied_minor boolean,             -- MNA / UAC: their coming of age opens deadlines
    age_band            text,
    languages           text[] NOT NULL DEFAULT '{}',
    preferred_language  text,
    timezone            text,
    personal_data       jsonb,               -- Sealed (key_id = person_id); NULL once erased
    registered_by       text NOT NULL,       -- key id of the caller
    registered_at       timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    erased_at           timestamptz,
    version             integer NOT NULL DEFAULT 0,
    CHECK ((erased_at IS NULL) = (personal_data IS NOT NULL))
);
CREATE INDEX persons_tenant_office ON persons (tenant_id, office_id);

-- Who read or wrote whose personal data, and when: ids and roles only, never the data.
CREATE TABLE person_audit (
    audit_id  bigserial PRIMARY KEY,
    tenant_id uuid NOT NULL,
    person_id uuid NOT NULL REFERENCES persons (person_id),
    action    text NOT NULL CHECK (action IN ('create', 'read', 'update', 'erase')),
    key_id    text NOT NULL,
    staff_id  uuid,
    role      text NOT NULL,
    at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX person_audit_person ON person_audit (person_id, audit_id);

SELECT isolate_tenant(t) FROM unnest(ARRAY['persons', 'person_audit']::regclass[]) AS t;

-- The application role is granted UPDATE and DELETE on every table of the schema (the
-- migrator re-grants them on each run), so append-only is enforced here instead.
CREATE FUNCTION refuse_audit_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'person_audit is append-only' USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER person_audit_append_only BEFORE UPDATE OR DELETE ON person_audit
    FOR EACH ROW EXECUTE FUNCTION refuse_audit_change();
