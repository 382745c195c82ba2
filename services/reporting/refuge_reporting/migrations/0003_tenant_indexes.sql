-- Figures are read one organisation at a time (row-level security filters on tenant_id):
-- without these, every query scans the whole generation, all organisations included.
CREATE INDEX cases_tenant ON cases (generation, tenant_id, opened_at);
CREATE INDEX case_closings_tenant ON case_closings (generation, tenant_id);
CREATE INDEX persons_tenant ON persons (generation, tenant_id);
CREATE INDEX contacts_tenant ON contacts (generation, tenant_id, contacted_at);
CREATE INDEX interviews_tenant ON interviews (generation, tenant_id);
CREATE INDEX detentions_tenant ON detentions (generation, tenant_id);
CREATE INDEX deadlines_tenant ON deadlines (generation, tenant_id);
CREATE INDEX deadline_outcomes_tenant ON deadline_outcomes (generation, tenant_id);
CREATE INDEX notifications_tenant ON notifications (generation, tenant_id);
CREATE INDEX offices_tenant ON offices (generation, tenant_id);

-- A generation built by a rebuild is analysed before it is swapped in, so that its first
-- queries get plans from statistics; the application's role may not ANALYZE a table it
-- does not own, hence the owner's function.
CREATE FUNCTION analyze_generation(g integer) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = reporting, public AS $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY fact_tables() LOOP
        EXECUTE format('ANALYZE reporting.%I', t || '_g' || g);
    END LOOP;
END $$;
REVOKE EXECUTE ON FUNCTION analyze_generation(integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION analyze_generation(integer) TO refuge_reporting;
