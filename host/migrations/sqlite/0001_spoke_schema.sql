-- Spoke schema subset for spoke-batches: SQLite.
--
-- What this is: the six Spoke tables this project reads and writes (organization, "user",
-- user_organization, campaign, assignment, campaign_contact), exactly as MoveOnOrg/Spoke's knex
-- migrations leave them on SQLite after ALL of its migrations (knex 2.3.0, client "sqlite3").
-- Statements are knex's own DDL text for these tables (taken from knex's query log while running
-- Spoke's migrations on SQLite), with each later "alter table add column" folded into the final
-- CREATE TABLE; the columns come out in the same order SQLite leaves them after those ALTERs.
-- Verified against sqlite_master and PRAGMA table_info / index_list / foreign_key_list of a
-- database migrated by Spoke's own migrations: identical for these six tables.
--
-- Spoke migrations reflected (the others touch no column, index or key of these tables on SQLite):
--   20190207220000_init_db.js                      all six tables. On SQLite (isSqlite) it skips
--                                                  campaign_contact's assignment_id/campaign_id
--                                                  indexes AND foreign keys, and creates
--                                                  user_organization.role with all seven roles
--   20190916145342_add_user_alias.js               "user".alias varchar(255) default null
--   20191108164924_message_errors.js               campaign_contact.error_code integer null
--   20200422002041_add_messaging_sid_to_campaign.js campaign.messageservice_sid,
--                                                  campaign.use_own_messaging_service
--   20200505220742_campaign_dynamic_texteroptions.js campaign.join_token, batch_size, features (json)
--   20200623101608_profile_fields.js               "user".extra (knex jsonb becomes json on SQLite)
--   20200810202726_response-window.js              campaign.response_window float
--   20200218220127_del_contact_xtraindexes.js, 20200512143258_add_user_roles.js and
--   20240503180901_campaigncontactsupdatedat.js are no-ops on SQLite (no updated_at trigger here).
--
-- Deliberate deviations: none in the resulting schema.
--   * Identifiers are quoted with "double quotes" instead of knex's `backticks` (same meaning).
--   * Defaults keep knex's literal spelling ('0', '1', '9', ...): with the columns' NUMERIC /
--     INTEGER affinity SQLite stores them as the integers 0, 1, 9, ...
--   * No column references a table outside this subset, so no foreign key was dropped.
-- Note: knex never turns on PRAGMA foreign_keys, so Spoke on SQLite never enforces the foreign
-- keys below; sqlx's SQLite driver turns foreign_keys ON by default, so here they are enforced
-- unless the connection options turn them off.

create table "user" ("id" integer not null primary key autoincrement, "auth0_id" text not null, "first_name" text not null, "last_name" text not null, "cell" text not null, "email" text not null, "created_at" datetime not null default CURRENT_TIMESTAMP, "assigned_cell" text, "is_superadmin" boolean, "terms" boolean default '0',
  -- 20190916145342_add_user_alias
  "alias" varchar(255) default null,
  -- 20200623101608_profile_fields
  "extra" json default null);

create table "organization" ("id" integer not null primary key autoincrement, "uuid" text, "name" text not null, "created_at" datetime not null default CURRENT_TIMESTAMP, "features" text default '', "texting_hours_enforced" boolean default '0', "texting_hours_start" integer default '9', "texting_hours_end" integer default '21');

create table "campaign" ("id" integer not null primary key autoincrement, "organization_id" integer not null, "title" text not null default '', "description" text not null default '', "is_started" boolean, "due_by" datetime default null, "created_at" datetime not null default CURRENT_TIMESTAMP, "is_archived" boolean, "use_dynamic_assignment" boolean, "logo_image_url" text, "intro_html" text, "primary_color" text, "override_organization_texting_hours" boolean default '0', "texting_hours_enforced" boolean default '1', "texting_hours_start" integer default '9', "texting_hours_end" integer default '21', "timezone" text default 'US/Eastern', "creator_id" integer null default null,
  -- 20200422002041_add_messaging_sid_to_campaign
  "messageservice_sid" varchar(255) default null, "use_own_messaging_service" boolean default '0',
  -- 20200505220742_campaign_dynamic_texteroptions
  "join_token" text default null, "batch_size" integer default null, "features" json default null,
  -- 20200810202726_response-window
  "response_window" float default null,
  foreign key("organization_id") references "organization"("id"), foreign key("creator_id") references "user"("id"));
create index "campaign_organization_id_index" on "campaign" ("organization_id");
create index "campaign_creator_id_index" on "campaign" ("creator_id");

create table "assignment" ("id" integer not null primary key autoincrement, "user_id" integer not null, "campaign_id" integer not null, "created_at" datetime not null default CURRENT_TIMESTAMP, "max_contacts" integer, foreign key("user_id") references "user"("id"), foreign key("campaign_id") references "campaign"("id"));
create index "assignment_user_id_index" on "assignment" ("user_id");
create index "assignment_campaign_id_index" on "assignment" ("campaign_id");

-- No foreign keys and no single-column assignment_id / campaign_id indexes: init_db skips them
-- when isSqlite (on pg the foreign keys exist and those two indexes were later dropped).
create table "campaign_contact" ("id" integer not null primary key autoincrement, "campaign_id" integer not null, "assignment_id" integer, "external_id" text not null default '', "first_name" text not null default '', "last_name" text not null default '', "cell" text not null, "zip" text not null default '', "custom_fields" text not null default '{}', "created_at" datetime not null default CURRENT_TIMESTAMP, "updated_at" datetime not null default CURRENT_TIMESTAMP, "message_status" text check ("message_status" in ('needsMessage', 'needsResponse', 'convo', 'messaged', 'closed', 'UPDATING')) not null default 'needsMessage', "is_opted_out" boolean default '0', "timezone_offset" text default '',
  -- 20191108164924_message_errors
  "error_code" integer null default null);
create index "campaign_contact_cell_index" on "campaign_contact" ("cell");
create index "campaign_contact_campaign_id_assignment_id_index" on "campaign_contact" ("campaign_id", "assignment_id");
create index "campaign_contact_assignment_id_timezone_offset_index" on "campaign_contact" ("assignment_id", "timezone_offset");

-- init_db creates the role enum with all seven roles on SQLite (20200512143258 is pg-only).
create table "user_organization" ("id" integer not null primary key autoincrement, "user_id" integer not null, "organization_id" integer not null, "role" text check ("role" in ('OWNER', 'ADMIN', 'SUPERVOLUNTEER', 'TEXTER', 'VETTED_TEXTER', 'ORG_SUPERADMIN', 'SUSPENDED')) not null, foreign key("user_id") references "user"("id"), foreign key("organization_id") references "organization"("id"));
create index "user_organization_user_id_index" on "user_organization" ("user_id");
create index "user_organization_organization_id_index" on "user_organization" ("organization_id");
create index "user_organization_organization_id_user_id_index" on "user_organization" ("organization_id", "user_id");
