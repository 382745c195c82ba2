-- A case write in one statement, which can be its own transaction: with ``p_begin_as``
-- (a tenant), the function first does what the simple query that begins a write's
-- transaction does (the tenant for row-level security, the API key's check, the outbox
-- nudge: see 0006 and 0007), so that a write without an Idempotency-Key is one round trip
-- outside an explicit transaction instead of three (BEGIN, the statement, COMMIT). The
-- statements run in order, so row-level security reads the tenant set before them; an
-- error anywhere (a revoked key) aborts all of it. Without ``p_begin_as`` the function
-- runs in a transaction that did all that already.
--
-- Each writes only what its checks admit, and returns what it read, from which intake
-- refuses as before (refuge_intake.adapters.case_writes has the Python side).

CREATE FUNCTION begin_write(p_begin_as uuid, p_check_key text, p_nudged boolean)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF p_begin_as IS NULL THEN
        RETURN;
    END IF;
    PERFORM set_config('refuge.tenant_id', p_begin_as::text, true);
    IF p_check_key IS NOT NULL THEN
        PERFORM require_usable_key(p_check_key, p_begin_as);
    END IF;
    IF p_nudged THEN
        PERFORM set_config('refuge.outbox_nudged', 'on', true);
    END IF;
END $$;

-- A case, its opening fact and its event, if the case's office is the tenant's (another
-- tenant's reads as absent) and open, and (p_office_jurisdiction, when the case took the
-- office's) still has that jurisdiction.
CREATE FUNCTION open_case_if(
    p_tenant_id uuid, p_case_id uuid, p_event_id text, p_event_type text, p_data jsonb, p_recorded_by text,
    p_topic text, p_key bytea, p_value bytea, p_headers jsonb, p_outbox_event_id text,
    p_outbox_event_type text, p_outbox_tenant_id uuid,
    p_office_id uuid, p_case_type text, p_jurisdiction text, p_channel text, p_person_id uuid,
    p_caseworker_id uuid, p_status text, p_opened_at timestamptz,
    p_office_jurisdiction text,
    p_begin_as uuid, p_check_key text, p_nudged boolean
) RETURNS TABLE (jurisdiction text, closed boolean, written boolean)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
BEGIN
    PERFORM begin_write(p_begin_as, p_check_key, p_nudged);
    RETURN QUERY
    WITH office AS (
        SELECT o.jurisdiction, o.closed_at IS NOT NULL AS closed FROM offices o WHERE o.office_id = p_office_id
    ), admitted AS (
        SELECT FROM office
        WHERE NOT office.closed AND (p_office_jurisdiction IS NULL OR office.jurisdiction = p_office_jurisdiction)
    ), opened AS (
        INSERT INTO cases (case_id, tenant_id, office_id, case_type, jurisdiction, channel, person_id,
                           caseworker_id, status, opened_at)
        SELECT p_case_id, p_tenant_id, p_office_id, p_case_type, p_jurisdiction, p_channel, p_person_id,
               p_caseworker_id, p_status, p_opened_at
        FROM admitted
        RETURNING case_id
    ), fact AS (
        INSERT INTO case_facts (tenant_id, case_id, event_id, event_type, data, recorded_by)
        SELECT p_tenant_id, p_case_id, p_event_id, p_event_type, p_data, p_recorded_by FROM opened
    ), event AS (
        INSERT INTO outbox (topic, key, value, headers, event_id, event_type, tenant_id)
        SELECT p_topic, p_key, p_value, p_headers, p_outbox_event_id, p_outbox_event_type, p_outbox_tenant_id
        FROM opened
    )
    SELECT office.jurisdiction, office.closed, EXISTS (SELECT FROM opened)
    FROM (VALUES (true)) AS one LEFT JOIN office ON true;
END $$;

-- The fact and its event on a case, locked as it is read (FOR UPDATE: writes to one case
-- stay serial, and its events in commit order in the outbox), if the case is in
-- p_office_scope (NULL: any), takes the fact (not closed, or p_closed_ok), and (when the
-- fact took the case's jurisdiction) has p_jurisdiction. No row: the tenant has no such case.
CREATE FUNCTION append_fact_if(
    p_tenant_id uuid, p_case_id uuid, p_event_id text, p_event_type text, p_data jsonb, p_recorded_by text,
    p_topic text, p_key bytea, p_value bytea, p_headers jsonb, p_outbox_event_id text,
    p_outbox_event_type text, p_outbox_tenant_id uuid,
    p_office_scope uuid, p_closed_ok boolean, p_jurisdiction text,
    p_begin_as uuid, p_check_key text, p_nudged boolean
) RETURNS TABLE (
    case_id uuid, tenant_id uuid, office_id uuid, case_type text, jurisdiction text, channel text,
    person_id uuid, caseworker_id uuid, status text, opened_at timestamptz, closed_at timestamptz,
    outcome text, detained_since timestamptz, written boolean
)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
BEGIN
    PERFORM begin_write(p_begin_as, p_check_key, p_nudged);
    RETURN QUERY
    WITH target AS (
        SELECT c.case_id, c.tenant_id, c.office_id, c.case_type, c.jurisdiction, c.channel, c.person_id,
               c.caseworker_id, c.status, c.opened_at, c.closed_at, c.outcome, c.detained_since
        FROM cases c WHERE c.case_id = p_case_id FOR UPDATE
    ), admitted AS (
        SELECT t.case_id FROM target t
        WHERE (p_office_scope IS NULL OR t.office_id = p_office_scope)
          AND (t.status <> 'closed' OR p_closed_ok)
          AND (p_jurisdiction IS NULL OR t.jurisdiction = p_jurisdiction)
    ), fact AS (
        INSERT INTO case_facts (tenant_id, case_id, event_id, event_type, data, recorded_by)
        SELECT p_tenant_id, a.case_id, p_event_id, p_event_type, p_data, p_recorded_by FROM admitted a
        RETURNING true
    ), event AS (
        INSERT INTO outbox (topic, key, value, headers, event_id, event_type, tenant_id)
        SELECT p_topic, p_key, p_value, p_headers, p_outbox_event_id, p_outbox_event_type, p_outbox_tenant_id
        FROM admitted
    )
    SELECT t.case_id, t.tenant_id, t.office_id, t.case_type, t.jurisdiction, t.channel, t.person_id,
           t.caseworker_id, t.status, t.opened_at, t.closed_at, t.outcome, t.detained_since,
           EXISTS (SELECT FROM fact)
    FROM target t;
END $$;
