-- How many contacts each assignment holds (spoke-batches' own addition; Spoke has no such table).
--
-- A batch request needs the count of the texter's contacts (Spoke's `contactsCount`: the clamp
-- against `max_contacts`, and WIT 0.1's `batch-plan.contacts-count`). Contacts stay assigned
-- after they are texted, so a busy texter holds tens of thousands, and counting them on every
-- request costs more than the rest of the request. This table keeps the count exact, whoever
-- writes `campaign_contact`, and a request reads it by primary key. SQLite has row triggers
-- only; each fires only for a row whose `assignment_id` is set or changes.
--
-- `spoke-batches migrate --holdings` runs this same file on a schema Spoke created (and again
-- to rebuild the counts), inside one write transaction.
create table if not exists "spoke_batches_holdings" (
  "assignment_id" integer primary key,
  "held" integer not null
);

drop trigger if exists "spoke_batches_holdings_insert";
drop trigger if exists "spoke_batches_holdings_update";
drop trigger if exists "spoke_batches_holdings_delete";
create trigger "spoke_batches_holdings_insert" after insert on "campaign_contact"
when new."assignment_id" is not null
begin
  insert into "spoke_batches_holdings" ("assignment_id", "held") values (new."assignment_id", 1)
  on conflict ("assignment_id") do update set "held" = "held" + 1;
end;
create trigger "spoke_batches_holdings_update" after update of "assignment_id" on "campaign_contact"
when old."assignment_id" is not new."assignment_id"
begin
  update "spoke_batches_holdings" set "held" = "held" - 1 where "assignment_id" = old."assignment_id";
  insert into "spoke_batches_holdings" ("assignment_id", "held")
  select new."assignment_id", 1 where new."assignment_id" is not null
  on conflict ("assignment_id") do update set "held" = "held" + 1;
end;
create trigger "spoke_batches_holdings_delete" after delete on "campaign_contact"
when old."assignment_id" is not null
begin
  update "spoke_batches_holdings" set "held" = "held" - 1 where "assignment_id" = old."assignment_id";
end;

delete from "spoke_batches_holdings";
insert into "spoke_batches_holdings" ("assignment_id", "held")
select "assignment_id", count(*) from "campaign_contact" where "assignment_id" is not null
group by "assignment_id";
