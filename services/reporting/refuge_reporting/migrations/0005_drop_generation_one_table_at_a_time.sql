-- Dropping a partition takes an ACCESS EXCLUSIVE lock on its parent table, so every figures
-- query on that table waits behind the drop. drop_generation dropped the eleven partitions
-- of a generation in one transaction, holding each parent's lock until the last was gone,
-- so that just after a swap a query could wait behind all eleven. This step drops one
-- partition per transaction and gives way sooner (50 ms): a query waits for at most one
-- short drop. The application calls it until it says done.
CREATE FUNCTION drop_generation_step(g integer) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = reporting, public AS $$
DECLARE t text;
BEGIN
    IF EXISTS (SELECT 1 FROM reporting.generations WHERE generation = g AND state = 'current') THEN
        RAISE EXCEPTION 'generation % is current', g;
    END IF;
    PERFORM set_config('lock_timeout', '50ms', true);
    FOREACH t IN ARRAY fact_tables() LOOP
        IF to_regclass(format('reporting.%I', t || '_g' || g)) IS NOT NULL THEN
            EXECUTE format('DROP TABLE IF EXISTS reporting.%I', t || '_g' || g);  -- another replica may drop it first
            RETURN false;
        END IF;
    END LOOP;
    DELETE FROM reporting.projection_offsets WHERE generation = g;
    UPDATE reporting.generations SET state = 'retired' WHERE generation = g;
    RETURN true;
END $$;
REVOKE EXECUTE ON FUNCTION drop_generation_step(integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION drop_generation_step(integer) TO refuge_reporting;
