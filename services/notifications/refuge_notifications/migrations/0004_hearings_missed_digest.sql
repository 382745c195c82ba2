-- Issue 5, the other triggers: hearings told to the beneficiary, missed deadlines told to the
-- caseworker and the coordinator, and the weekly caseworker digest.

-- case.opened / case.transferred name the caseworker: deadline.missed tells them.
ALTER TABLE case_persons ADD COLUMN caseworker_id uuid;

-- Hearings as last scheduled (case.hearing_scheduled / _rescheduled): a cancellation names
-- the date it cancels; last_event_id is the latest change, whose message alone still goes out
-- (one deferred overnight and overtaken by a rescheduling would give a wrong date).
CREATE TABLE hearings (
    hearing_id   uuid PRIMARY KEY,
    tenant_id    uuid NOT NULL,
    case_id      uuid NOT NULL,
    scheduled_at timestamptz NOT NULL,
    timezone     text,
    court        text,
    last_event_id text NOT NULL
);
SELECT isolate_tenant('hearings');

-- Deadlines of each office (refuge.deadlines.v1), for the weekly digest. Ids, purposes and
-- instants only, no personal data: like the delivery log, read across tenants by the digest
-- job, which then reads each tenant's staff under that tenant's row-level security.
CREATE TABLE office_deadlines (
    deadline_id uuid PRIMARY KEY,
    tenant_id   uuid NOT NULL,
    case_id     uuid NOT NULL,
    office_id   uuid,
    caseworker_id uuid,
    purpose     text NOT NULL,
    due         timestamptz NOT NULL,
    timezone    text NOT NULL,
    state       text NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'met', 'missed', 'cancelled'))
);
CREATE INDEX office_deadlines_open ON office_deadlines (due) WHERE state = 'open';

-- Staff by office and role: who gets the digest, which coordinator hears of a missed deadline.
CREATE INDEX staff_contacts_office_role ON staff_contacts (tenant_id, office_id, role);
