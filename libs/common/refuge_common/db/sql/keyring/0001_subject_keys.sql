-- Per-subject data keys (a person, a staff member), wrapped by the master key.
-- Deleting a row crypto-shreds every copy of that subject's personal data.
CREATE TABLE subject_keys (
    subject_id  uuid        PRIMARY KEY,
    tenant_id   uuid        NOT NULL,
    wrapped_key bytea       NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE subject_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE subject_keys FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON subject_keys
    USING (tenant_id = nullif(current_setting('refuge.tenant_id', true), '')::uuid)
    WITH CHECK (tenant_id = nullif(current_setting('refuge.tenant_id', true), '')::uuid);
