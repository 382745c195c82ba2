-- Only pending timers are looked up by deadline (cancel_pending_timers). Indexing just
-- those spares firing one index entry per timer: a fired row leaves this index.
-- No deadline is ever deleted, so the foreign key needs no index on every row.
DROP INDEX reminders_deadline;
CREATE INDEX reminders_deadline_pending ON reminders (deadline_id) WHERE status = 'pending';
