-- GET /audit: an organisation admin pages the organisation's log newest first,
-- optionally for one staff member (the person filter uses person_audit_person).
CREATE INDEX person_audit_tenant ON person_audit (tenant_id, audit_id DESC);
CREATE INDEX person_audit_staff ON person_audit (staff_id, audit_id DESC) WHERE staff_id IS NOT NULL;
