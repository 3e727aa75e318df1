-- Spoke schema subset for spoke-batches: PostgreSQL.
--
-- What this is: the six Spoke tables this project reads and writes (organization, "user",
-- user_organization, campaign, assignment, campaign_contact), exactly as MoveOnOrg/Spoke's knex
-- migrations leave them on PostgreSQL after ALL of its migrations (knex 2.3.0, client "pg").
-- Statements are knex's own DDL text for these tables (taken from knex's query log while running
-- Spoke's migrations), with each later ALTER folded into the final CREATE TABLE / index list.
-- Verified by diffing pg_dump of this file against pg_dump of a database migrated by Spoke's
-- own migrations: identical for these six tables (columns, order, types, NOT NULL, defaults,
-- CHECK constraints and their names, primary keys, indexes, foreign keys, trigger).
--
-- Spoke migrations reflected (the others touch no column, index or key of these tables):
--   20190207220000_init_db.js                      all six tables, their indexes and foreign keys
--   20190916145342_add_user_alias.js               "user".alias varchar(255) default null
--   20191108164924_message_errors.js               campaign_contact.error_code integer null
--   20200218220127_del_contact_xtraindexes.js      drops campaign_contact_assignment_id_index and
--                                                  campaign_contact_campaign_id_index (pg only;
--                                                  their foreign keys stay)
--   20200422002041_add_messaging_sid_to_campaign.js campaign.messageservice_sid,
--                                                  campaign.use_own_messaging_service
--   20200505220742_campaign_dynamic_texteroptions.js campaign.join_token, batch_size, features (json)
--   20200512143258_add_user_roles.js               user_organization_role_check widened to
--                                                  VETTED_TEXTER, ORG_SUPERADMIN, SUSPENDED
--   20200623101608_profile_fields.js               "user".extra jsonb
--   20200810202726_response-window.js              campaign.response_window (knex float = real)
--   20240503180901_campaigncontactsupdatedat.js    on_update_timestamp() + campaign_contact_updated_at
--                                                  trigger (BEFORE UPDATE sets updated_at = now())
--
-- Deliberate deviations: none in the resulting schema.
--   * The role CHECK is written inline with the final seven roles instead of knex's four roles
--     followed by 20200512143258's DROP/ADD CONSTRAINT; PostgreSQL names it
--     user_organization_role_check either way and stores the same definition.
--   * Boolean/integer defaults keep knex's literal spelling ('0', '1', '9', ...); PostgreSQL
--     stores them as false, true, 9, ...
--   * No column references a table outside this subset (campaign.creator_id references "user"),
--     so every foreign key Spoke has on these tables is kept.
-- Note: because of the trigger, any UPDATE of campaign_contact gets updated_at = now() (the
-- transaction's start time) on PostgreSQL, whatever value the UPDATE itself sets.

create table "user" ("id" serial primary key, "auth0_id" text not null, "first_name" text not null, "last_name" text not null, "cell" text not null, "email" text not null, "created_at" timestamptz not null default CURRENT_TIMESTAMP, "assigned_cell" text, "is_superadmin" boolean, "terms" boolean default '0',
  -- 20190916145342_add_user_alias
  "alias" varchar(255) default null,
  -- 20200623101608_profile_fields
  "extra" jsonb default null);

create table "organization" ("id" serial primary key, "uuid" text, "name" text not null, "created_at" timestamptz not null default CURRENT_TIMESTAMP, "features" text default '', "texting_hours_enforced" boolean default '0', "texting_hours_start" integer default '9', "texting_hours_end" integer default '21');

create table "campaign" ("id" serial primary key, "organization_id" integer not null, "title" text not null default '', "description" text not null default '', "is_started" boolean, "due_by" timestamptz default null, "created_at" timestamptz not null default CURRENT_TIMESTAMP, "is_archived" boolean, "use_dynamic_assignment" boolean, "logo_image_url" text, "intro_html" text, "primary_color" text, "override_organization_texting_hours" boolean default '0', "texting_hours_enforced" boolean default '1', "texting_hours_start" integer default '9', "texting_hours_end" integer default '21', "timezone" text default 'US/Eastern', "creator_id" integer null default null,
  -- 20200422002041_add_messaging_sid_to_campaign
  "messageservice_sid" varchar(255) default null, "use_own_messaging_service" boolean default '0',
  -- 20200505220742_campaign_dynamic_texteroptions
  "join_token" text default null, "batch_size" integer default null, "features" json default null,
  -- 20200810202726_response-window (knex float is single-precision real on pg)
  "response_window" real default null);
create index "campaign_organization_id_index" on "campaign" ("organization_id");
alter table "campaign" add constraint "campaign_organization_id_foreign" foreign key ("organization_id") references "organization" ("id");
create index "campaign_creator_id_index" on "campaign" ("creator_id");
alter table "campaign" add constraint "campaign_creator_id_foreign" foreign key ("creator_id") references "user" ("id");

create table "assignment" ("id" serial primary key, "user_id" integer not null, "campaign_id" integer not null, "created_at" timestamptz not null default CURRENT_TIMESTAMP, "max_contacts" integer);
create index "assignment_user_id_index" on "assignment" ("user_id");
alter table "assignment" add constraint "assignment_user_id_foreign" foreign key ("user_id") references "user" ("id");
create index "assignment_campaign_id_index" on "assignment" ("campaign_id");
alter table "assignment" add constraint "assignment_campaign_id_foreign" foreign key ("campaign_id") references "campaign" ("id");

create table "campaign_contact" ("id" serial primary key, "campaign_id" integer not null, "assignment_id" integer, "external_id" text not null default '', "first_name" text not null default '', "last_name" text not null default '', "cell" text not null, "zip" text not null default '', "custom_fields" text not null default '{}', "created_at" timestamptz not null default CURRENT_TIMESTAMP, "updated_at" timestamptz not null default CURRENT_TIMESTAMP, "message_status" text check ("message_status" in ('needsMessage', 'needsResponse', 'convo', 'messaged', 'closed', 'UPDATING')) not null default 'needsMessage', "is_opted_out" boolean default '0', "timezone_offset" text default '',
  -- 20191108164924_message_errors
  "error_code" integer null default null);
-- init_db also created campaign_contact_assignment_id_index and campaign_contact_campaign_id_index;
-- 20200218220127_del_contact_xtraindexes dropped both on pg. The foreign keys remain.
alter table "campaign_contact" add constraint "campaign_contact_assignment_id_foreign" foreign key ("assignment_id") references "assignment" ("id");
alter table "campaign_contact" add constraint "campaign_contact_campaign_id_foreign" foreign key ("campaign_id") references "campaign" ("id");
create index "campaign_contact_cell_index" on "campaign_contact" ("cell");
create index "campaign_contact_campaign_id_assignment_id_index" on "campaign_contact" ("campaign_id", "assignment_id");
create index "campaign_contact_assignment_id_timezone_offset_index" on "campaign_contact" ("assignment_id", "timezone_offset");

-- Role list as widened by 20200512143258_add_user_roles (constraint name: user_organization_role_check).
create table "user_organization" ("id" serial primary key, "user_id" integer not null, "organization_id" integer not null, "role" text check ("role" in ('OWNER', 'ADMIN', 'SUPERVOLUNTEER', 'TEXTER', 'VETTED_TEXTER', 'ORG_SUPERADMIN', 'SUSPENDED')) not null);
create index "user_organization_user_id_index" on "user_organization" ("user_id");
alter table "user_organization" add constraint "user_organization_user_id_foreign" foreign key ("user_id") references "user" ("id");
create index "user_organization_organization_id_index" on "user_organization" ("organization_id");
alter table "user_organization" add constraint "user_organization_organization_id_foreign" foreign key ("organization_id") references "organization" ("id");
create index "user_organization_organization_id_user_id_index" on "user_organization" ("organization_id", "user_id");

-- 20240503180901_campaigncontactsupdatedat (verbatim, pg only)
  CREATE OR REPLACE FUNCTION on_update_timestamp()
  RETURNS trigger AS $$
  BEGIN
    NEW.updated_at = now();
    RETURN NEW;
  END;
$$ language 'plpgsql';

CREATE TRIGGER campaign_contact_updated_at
BEFORE UPDATE ON campaign_contact
FOR EACH ROW
EXECUTE PROCEDURE on_update_timestamp();
