-- Facts, one row per natural key (a case, a contact event, a person, a deadline and its
-- outcome...), so that a replayed or duplicated event is a no-op; figures are aggregated at
-- query time. Every fact table is LIST-partitioned by projection generation: a rebuild fills
-- a fresh generation while the current one keeps answering, a pointer swap in one
-- transaction makes it current, and the old generation is dropped partition by partition.
DROP TABLE case_facts;
DROP TABLE deadline_facts;

CREATE TABLE generations (
    generation  integer PRIMARY KEY,
    state       text NOT NULL CHECK (state IN ('building', 'current', 'retired')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    swapped_at  timestamptz
);
CREATE UNIQUE INDEX generations_one_current ON generations ((true)) WHERE state = 'current';

-- Where each generation has read up to, written in the transaction that applies the batch.
CREATE TABLE projection_offsets (
    generation  integer NOT NULL,
    topic       text    NOT NULL,
    partition   integer NOT NULL,
    next_offset bigint  NOT NULL,
    PRIMARY KEY (generation, topic, partition)
);

-- The organisations seen on the stream: what an operator's platform totals iterate over
-- (each tenant's figures are read under its own row-level security). Names are public.
CREATE TABLE organisations (
    tenant_id uuid PRIMARY KEY,
    name      text
);

CREATE TABLE offices (
    generation   integer NOT NULL,
    office_id    uuid NOT NULL,
    tenant_id    uuid NOT NULL,
    name         text NOT NULL,
    kind         text NOT NULL,
    jurisdiction text NOT NULL,
    version      timestamptz NOT NULL,
    PRIMARY KEY (generation, office_id)
) PARTITION BY LIST (generation);

CREATE TABLE cases (
    generation   integer NOT NULL,
    case_id      uuid NOT NULL,
    tenant_id    uuid NOT NULL,
    office_id    uuid NOT NULL,
    person_id    uuid,
    case_type    text NOT NULL,
    jurisdiction text NOT NULL,
    channel      text NOT NULL,
    opened_at    timestamptz NOT NULL,
    PRIMARY KEY (generation, case_id)
) PARTITION BY LIST (generation);

CREATE TABLE case_closings (
    generation integer NOT NULL,
    case_id    uuid NOT NULL,
    tenant_id  uuid NOT NULL,
    outcome    text NOT NULL,
    closed_at  timestamptz NOT NULL,
    PRIMARY KEY (generation, case_id)
) PARTITION BY LIST (generation);

-- Only the coarse attributes statistics need; sealed personal data is never opened.
CREATE TABLE persons (
    generation  integer NOT NULL,
    person_id   uuid NOT NULL,
    tenant_id   uuid NOT NULL,
    gender      text NOT NULL,
    nationality text NOT NULL,
    age_band    text NOT NULL,
    version     timestamptz NOT NULL,
    PRIMARY KEY (generation, person_id)
) PARTITION BY LIST (generation);

-- An erased person stays counted, anonymously: the random person_id and coarse attributes
-- above identify no one once the key is shredded; this only records that it was.
CREATE TABLE person_erasures (
    generation integer NOT NULL,
    person_id  uuid NOT NULL,
    tenant_id  uuid NOT NULL,
    erased_at  timestamptz NOT NULL,
    PRIMARY KEY (generation, person_id)
) PARTITION BY LIST (generation);

CREATE TABLE contacts (
    generation   integer NOT NULL,
    source       text NOT NULL,
    event_id     text NOT NULL,
    tenant_id    uuid NOT NULL,
    case_id      uuid NOT NULL,
    office_id    uuid,
    channel      text NOT NULL,
    outcome      text NOT NULL,
    contacted_at timestamptz NOT NULL,
    PRIMARY KEY (generation, source, event_id)
) PARTITION BY LIST (generation);

CREATE TABLE interviews (
    generation integer NOT NULL,
    source     text NOT NULL,
    event_id   text NOT NULL,
    tenant_id  uuid NOT NULL,
    case_id    uuid NOT NULL,
    authority  text NOT NULL,
    held_at    timestamptz NOT NULL,
    PRIMARY KEY (generation, source, event_id)
) PARTITION BY LIST (generation);

CREATE TABLE detentions (
    generation integer NOT NULL,
    source     text NOT NULL,
    event_id   text NOT NULL,
    tenant_id  uuid NOT NULL,
    case_id    uuid NOT NULL,
    kind       text NOT NULL,
    started_at timestamptz NOT NULL,
    PRIMARY KEY (generation, source, event_id)
) PARTITION BY LIST (generation);

CREATE TABLE deadlines (
    generation  integer NOT NULL,
    deadline_id uuid NOT NULL,
    tenant_id   uuid NOT NULL,
    case_id     uuid NOT NULL,
    office_id   uuid,
    purpose     text NOT NULL,
    due         timestamptz NOT NULL,
    computed_at timestamptz NOT NULL,
    PRIMARY KEY (generation, deadline_id)
) PARTITION BY LIST (generation);

CREATE TABLE deadline_outcomes (
    generation  integer NOT NULL,
    deadline_id uuid NOT NULL,
    outcome     text NOT NULL CHECK (outcome IN ('met', 'missed', 'cancelled')),
    tenant_id   uuid NOT NULL,
    case_id     uuid NOT NULL,
    at          timestamptz NOT NULL,
    PRIMARY KEY (generation, deadline_id, outcome)
) PARTITION BY LIST (generation);

CREATE TABLE notifications (
    generation      integer NOT NULL,
    notification_id uuid NOT NULL,
    status          text NOT NULL CHECK (status IN ('sent', 'delivered', 'failed', 'suppressed')),
    tenant_id       uuid NOT NULL,
    case_id         uuid,
    channel         text NOT NULL,
    recipient_kind  text NOT NULL,
    reason          text NOT NULL,
    at              timestamptz NOT NULL,
    PRIMARY KEY (generation, notification_id, status)
) PARTITION BY LIST (generation);

CREATE FUNCTION fact_tables() RETURNS text[] LANGUAGE sql IMMUTABLE AS $$
    SELECT ARRAY['offices', 'cases', 'case_closings', 'persons', 'person_erasures', 'contacts',
                 'interviews', 'detentions', 'deadlines', 'deadline_outcomes', 'notifications']
$$;

SELECT isolate_tenant(t::regclass) FROM unnest(fact_tables()) AS t;

-- The application's role owns no table, so it cannot create or drop partitions itself: these
-- two functions, running as the schema owner, do exactly that and nothing else. Each
-- partition gets the forced row-level security of its parent, should it ever be read directly.
CREATE FUNCTION open_generation(g integer) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = reporting, public AS $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY fact_tables() LOOP
        EXECUTE format('CREATE TABLE IF NOT EXISTS reporting.%I PARTITION OF reporting.%I FOR VALUES IN (%s)',
                       t || '_g' || g, t, g);
        EXECUTE format('ALTER TABLE reporting.%I ENABLE ROW LEVEL SECURITY', t || '_g' || g);
        EXECUTE format('ALTER TABLE reporting.%I FORCE ROW LEVEL SECURITY', t || '_g' || g);
    END LOOP;
    INSERT INTO reporting.generations (generation, state) VALUES (g, 'building')
        ON CONFLICT (generation) DO NOTHING;
END $$;

CREATE FUNCTION drop_generation(g integer) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = reporting, public AS $$
DECLARE t text;
BEGIN
    IF EXISTS (SELECT 1 FROM reporting.generations WHERE generation = g AND state = 'current') THEN
        RAISE EXCEPTION 'generation % is current', g;
    END IF;
    FOREACH t IN ARRAY fact_tables() LOOP
        EXECUTE format('DROP TABLE IF EXISTS reporting.%I', t || '_g' || g);
    END LOOP;
    DELETE FROM reporting.projection_offsets WHERE generation = g;
    UPDATE reporting.generations SET state = 'retired' WHERE generation = g;
END $$;

REVOKE EXECUTE ON FUNCTION open_generation(integer), drop_generation(integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION open_generation(integer), drop_generation(integer) TO refuge_reporting;

SELECT open_generation(1);
UPDATE generations SET state = 'current', swapped_at = now() WHERE generation = 1;
