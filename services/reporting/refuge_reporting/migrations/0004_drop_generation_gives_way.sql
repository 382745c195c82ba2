-- Dropping a retired generation's partitions takes an exclusive lock on each fact table;
-- queries lock the same tables in their join order, so the two can deadlock, and the query
-- could be the one cancelled. With a lock timeout shorter than deadlock_timeout (1 s), the
-- drop gives way instead: it fails, releases what it holds, and is tried again later.
CREATE OR REPLACE FUNCTION drop_generation(g integer) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = reporting, public AS $$
DECLARE t text;
BEGIN
    IF EXISTS (SELECT 1 FROM reporting.generations WHERE generation = g AND state = 'current') THEN
        RAISE EXCEPTION 'generation % is current', g;
    END IF;
    PERFORM set_config('lock_timeout', '200ms', true);
    FOREACH t IN ARRAY fact_tables() LOOP
        EXECUTE format('DROP TABLE IF EXISTS reporting.%I', t || '_g' || g);
    END LOOP;
    DELETE FROM reporting.projection_offsets WHERE generation = g;
    UPDATE reporting.generations SET state = 'retired' WHERE generation = g;
END $$;
