-- The assignment status index (spoke-batches' own addition; Spoke's migrations have no such
-- index).
--
-- Strategies ask about the texter's own contacts by status: "are replies waiting"
--   ... WHERE campaign_id = ? AND message_status IN ('needsResponse') AND assignment_id = ? ...
-- and the engine counts what the texter still has to text first (`needsMessage`). Spoke's
-- indexes on assignment_id lead to every contact the texter ever held (messaged contacts stay
-- assigned), so those questions read thousands of rows for a busy texter; with the status next
-- to the assignment they read only the matching contacts.
-- `spoke-batches migrate --claim-index` creates the same index on a schema Spoke created.
create index if not exists "campaign_contact_assignment_status_index" on "campaign_contact"
  ("assignment_id", "message_status");
