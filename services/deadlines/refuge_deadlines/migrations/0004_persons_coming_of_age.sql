-- What deadlines keeps of a person: only when an unaccompanied minor comes of age, at the
-- coarsest date that is still never late (the first day of the birth month, 18 years on).
-- The birth date is read from its seal in memory and never stored.
CREATE TABLE persons (
    person_id     uuid PRIMARY KEY,
    tenant_id     uuid NOT NULL,
    comes_of_age  date
);
SELECT isolate_tenant('persons');
CREATE INDEX cases_person ON cases (person_id) WHERE person_id IS NOT NULL;
