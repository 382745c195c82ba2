-- A delivery now moves pending -> claimed -> sending -> sent | failed | unknown.
--   claimed: a dispatcher holds it under a lease and has not called the provider yet;
--            if the dispatcher dies, the lease lapses and the row is claimed again (safe).
--   sending: committed just before the provider call; if the dispatcher dies now, no one
--            can tell whether the provider accepted, so the row is settled as "unknown"
--            and never re-sent (DESIGN.md: at most once per event, recipient, channel).
-- attempts now counts failed provider attempts (a claim that never reached DATA is not one).
-- claim_token fences a dispatcher whose lease lapsed: its late writes match no row.
ALTER TABLE deliveries ADD COLUMN claim_token uuid;
ALTER TABLE deliveries ADD COLUMN sending_at timestamptz;
-- Rows left "sending" by the previous dispatcher may not have reached the provider; it
-- re-sent them, and so, once, does this one.
UPDATE deliveries SET status = 'claimed' WHERE status = 'sending';
DROP INDEX deliveries_due;
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE status IN ('pending', 'claimed', 'sending');
