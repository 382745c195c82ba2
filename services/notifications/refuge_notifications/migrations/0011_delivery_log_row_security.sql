-- The delivery log and the office deadlines get the forced row-level security of every other
-- tenant table (DESIGN.md): a handler or a route that forgets its tenant filter sees, changes
-- and plants no other organisation's rows. They are read across tenants by the dispatcher and
-- the weekly-digest scheduler only, through a pool of their own whose connections carry the
-- server setting refuge.across_tenants = on (refuge_common.service_main.open_service_pool); a
-- second, permissive policy admits that scope, and nothing else does. The role still neither
-- owns the tables nor bypasses row-level security. Intake's way (one SECURITY DEFINER function
-- of the owner's per cross-tenant action) would take a dozen here, the dispatcher's claims,
-- group writes and settlements among them, each planned as a function instead of a statement.
CREATE FUNCTION across_tenants() RETURNS boolean LANGUAGE sql STABLE AS
    $$ SELECT coalesce(current_setting('refuge.across_tenants', true), '') = 'on' $$;

-- The policies are isolate_tenant()'s with each setting read once per statement (a
-- subquery, which PostgreSQL runs once as an InitPlan) instead of once per row: the dispatcher
-- reads every open row of the log to find its next wake-up and its abandoned sends, and a
-- claim walks past the rows of a provider account that is full; per row, reading and parsing
-- two settings doubled the database's CPU per message through a backlog of 10,000.
DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['deliveries', 'office_deadlines'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_isolation ON %I USING (tenant_id = (SELECT current_tenant()))
                        WITH CHECK (tenant_id = (SELECT current_tenant()))', t);
        EXECUTE format('CREATE POLICY across_tenants ON %I USING ((SELECT across_tenants()))
                        WITH CHECK ((SELECT across_tenants()))', t);
    END LOOP;
END $$;
