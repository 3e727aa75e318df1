-- The claim index (spoke-batches' own addition; Spoke's migrations have no such index).
--
-- A batch is claimed with
--   ... WHERE campaign_id = ? AND message_status IN (?) AND assignment_id IS NULL
--       AND is_opted_out = ? [AND timezone_offset IN (...)] ORDER BY CAST(id AS BIGINT) LIMIT ?
-- Only unassigned contacts are in this partial index, ordered by id within a campaign and
-- status, so the claim reads the first matching entries and stops: its cost does not depend on
-- the campaign's size nor on how many contacts are already assigned, and a small campaign never
-- walks a big one's rows. The same index answers the capped counts strategies ask for.
-- The order is by `CAST(id AS BIGINT)` rather than `id` so that only this index provides it:
-- ordered by plain `id`, PostgreSQL may estimate the primary key's scan as cheaper and then walk
-- every assigned contact ahead of the first unassigned one.
-- `spoke-batches migrate --claim-index` creates the same index on a schema Spoke created.
create index if not exists "campaign_contact_claim_index" on "campaign_contact"
  ("campaign_id", "message_status", "is_opted_out", (CAST("id" AS BIGINT))) where "assignment_id" is null;
