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

SELECT isolate_tenant(t) FROM unnest(ARRAY['deliveries', 'office_deadlines']::regclass[]) AS t;
CREATE POLICY across_tenants ON deliveries USING (across_tenants()) WITH CHECK (across_tenants());
CREATE POLICY across_tenants ON office_deadlines USING (across_tenants()) WITH CHECK (across_tenants());
