-- A rebuild's target (the sum of the end offsets it reads up to), written by the replica
-- that builds it, so that every replica can answer GET /operator/rebuild: the events done
-- are the generation's stored offsets.
ALTER TABLE generations ADD COLUMN events_total bigint;
