//! The demo: seeds an empty Spoke schema with one organization, an admin and six texters, one
//! dynamic-assignment campaign and as many contacts as asked, spread over US time zones the way
//! a national contact list is. Everything comes from a fixed RNG seed, so every run builds the
//! same demo; `make run` and the benchmarks start from it. On request it adds texters with empty
//! assignments (the load benchmark's), or another organization and campaign beside what is there
//! (campaigns of several sizes in one table).

mod contacts;
mod data;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde::Serialize;
use sqlx::QueryBuilder;

use contacts::{ContactGenerator, demo_uuid};
use data::{Inbox, demo_people};

use crate::db::{Database, Dialect};

/// How big a demo to seed.
#[derive(Debug, Clone)]
pub struct SeedOptions {
    /// How many campaign contacts to create.
    pub contacts: u64,
    /// Show a progress bar on stderr while the contacts are inserted.
    pub progress: bool,
    /// Texters to add beyond the demo's seven people (role `TEXTER`, each with an empty
    /// assignment in the campaign): the load benchmarks' many texters.
    pub extra_texters: u32,
    /// Seed another demo organization and campaign even when the database has campaigns
    /// (campaigns of several sizes sharing one table, as in the scaling benchmark).
    pub add: bool,
}

/// What [`seed_demo`] created: the ids a caller needs to drive the demo.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SeedSummary {
    /// The demo organization.
    pub organization_id: i64,
    /// The demo campaign (dynamic assignment, started).
    pub campaign_id: i64,
    /// How many contacts the campaign has.
    pub contacts: u64,
    /// Everyone with an assignment in the campaign: the admin first, then the vetted texters,
    /// then the texters.
    pub texters: Vec<DemoTexter>,
    /// The campaign's `join_token`, for trying `join`.
    pub join_token: String,
}

/// A demo user with an assignment in the demo campaign.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DemoTexter {
    /// `user.id`.
    pub user_id: i64,
    /// Their `assignment.id` in the demo campaign.
    pub assignment_id: i64,
    /// First and last name.
    pub name: String,
    /// Their role in the organization: `TEXTER`, `VETTED_TEXTER` or `ADMIN`.
    pub role: &'static str,
}

/// Why the demo could not be seeded.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// The database refused a statement.
    #[error("database error: {0}")]
    Sql(#[from] sqlx::Error),
    /// The database already has data, which the demo would mix with.
    #[error("the database already has campaigns; seed an empty database or pass another --database-url")]
    NotEmpty,
}

/// The RNG seed: the same demo every time.
const RNG_SEED: u64 = 42;

/// A fresh `join_token` for a seeded campaign: 32 letters and digits from a cryptographically
/// secure generator seeded by the operating system (`rand::rng`). Anyone holding a campaign's
/// token may join it, so a well-known one would open every seeded campaign (also one `--add`ed
/// to a real database) to anyone who read this source.
fn random_join_token() -> String {
    use rand::Rng;
    rand::rng()
        .sample_iter(rand::distr::Alphanumeric)
        .take(32)
        .map(char::from)
        .collect()
}

/// Contacts per `INSERT`: 3,000 rows of 9 bound columns are 27,000 parameters, under SQLite's
/// limit of 32,766 per statement (PostgreSQL allows 65,535).
const CHUNK_ROWS: u64 = 3_000;

/// Contacts per transaction, rounded up to whole statements. Committing along the way keeps
/// SQLite's write-ahead log small (it is checkpointed after each commit) instead of growing to
/// the size of the whole table; an interrupted seed therefore leaves a partial demo, and a
/// fresh database is the way to retry.
const TRANSACTION_ROWS: u64 = 50_000;

/// Evaluates to whether `$executor` sees a campaign row.
macro_rules! any_campaign {
    ($db:ty, $executor:expr) => {
        QueryBuilder::<$db>::new("SELECT CAST(id AS BIGINT) FROM campaign LIMIT 1")
            .build_query_scalar::<i64>()
            .fetch_optional($executor)
            .await
            .map(|found| found.is_some())
    };
}

/// Whether the database has any campaign (then [`seed_demo`] refuses it).
pub async fn has_data(db: &Database) -> Result<bool, sqlx::Error> {
    match db {
        Database::Postgres(pool) => any_campaign!(sqlx::Postgres, pool),
        Database::Sqlite(pool) => any_campaign!(sqlx::Sqlite, pool),
    }
}

/// Seeds the demo into an empty Spoke schema (the caller ran the migrations); refuses with
/// [`DemoError::NotEmpty`] when [`has_data`] is true. The same `options` always give the same
/// rows.
pub async fn seed_demo(db: &Database, options: &SeedOptions) -> Result<SeedSummary, DemoError> {
    match db {
        Database::Postgres(pool) => {
            let summary = seed_postgres(pool, options).await?;
            // Fresh statistics now: autovacuum would otherwise analyze the new rows at some
            // moment during whatever runs next, and change its plans midway.
            sqlx::raw_sql(
                "ANALYZE organization, \"user\", user_organization, campaign, assignment, campaign_contact",
            )
            .execute(pool)
            .await?;
            Ok(summary)
        }
        Database::Sqlite(pool) => seed_sqlite(pool, options).await,
    }
}

/// Runs `$insert VALUES ($value, …) RETURNING CAST(id AS BIGINT)` on `$tx`, every value bound;
/// evaluates to the new row's id.
macro_rules! insert_returning_id {
    ($db:ty, $tx:expr, $insert:literal, $($value:expr),+ $(,)?) => {{
        let mut query = QueryBuilder::<$db>::new(concat!($insert, " VALUES ("));
        let mut values = query.separated(", ");
        $(values.push_bind($value);)+
        query.push(") RETURNING CAST(id AS BIGINT)");
        query.build_query_scalar::<i64>().fetch_one(&mut *$tx).await?
    }};
}

/// Defines `$name`, the seeder for one dialect. The statements are the same for both; the
/// macro only spares spelling them twice.
macro_rules! impl_seed {
    ($name:ident, $db:ty) => {
        async fn $name(pool: &sqlx::Pool<$db>, options: &SeedOptions) -> Result<SeedSummary, DemoError> {
            let mut rng = StdRng::seed_from_u64(RNG_SEED);
            // Checked in the write transaction: on SQLite it holds the write lock, so two
            // seeders cannot both find the database empty.
            let mut tx = <$db as Dialect>::begin_transaction(pool).await?;
            if !options.add && any_campaign!($db, &mut *tx)? {
                return Err(DemoError::NotEmpty);
            }

            let organization_id = insert_returning_id!(
                $db,
                tx,
                "INSERT INTO organization (uuid, name, features, texting_hours_enforced, \
                 texting_hours_start, texting_hours_end)",
                demo_uuid(&mut rng),
                "Demo Organization",
                "{}",
                false,
                9_i32,
                21_i32,
            );

            let people = demo_people(options.extra_texters);
            let mut user_ids = Vec::with_capacity(people.len());
            for (number, user) in (1_u32..).zip(&people) {
                let login = format!("{}.{}", user.first_name, user.last_name).to_lowercase();
                // Unique per organization, so added demos do not share logins.
                let login = format!("{organization_id}-{login}");
                let user_id = insert_returning_id!(
                    $db,
                    tx,
                    "INSERT INTO \"user\" (auth0_id, first_name, last_name, cell, email, is_superadmin, terms)",
                    format!("auth0|demo-{login}"),
                    user.first_name,
                    user.last_name.to_string(),
                    // Area code 555 is not in service: no real phone in the demo.
                    format!("+1555{:07}", 100 + number),
                    format!("{login}@example.org"),
                    false,
                    true,
                );
                insert_returning_id!(
                    $db,
                    tx,
                    "INSERT INTO user_organization (user_id, organization_id, role)",
                    user_id,
                    organization_id,
                    user.role.as_str(),
                );
                user_ids.push(user_id);
            }

            let join_token = random_join_token();
            let campaign_id = insert_returning_id!(
                $db,
                tx,
                "INSERT INTO campaign (organization_id, creator_id, title, description, is_started, \
                 is_archived, use_dynamic_assignment, batch_size, join_token, \
                 override_organization_texting_hours, texting_hours_enforced, texting_hours_start, \
                 texting_hours_end, timezone)",
                organization_id,
                user_ids[0],
                "Get out the vote (demo)",
                "Remind supporters to vote, and where. Seeded by spoke-batches.",
                true,
                false,
                true,
                100_i32,
                join_token.as_str(),
                // The organization's hours apply (Spoke's default), and it does not enforce
                // them: the demo hands out contacts at any hour of the day.
                false,
                true,
                9_i32,
                21_i32,
                "US/Eastern",
            );

            let mut texters = Vec::with_capacity(people.len());
            for (user, user_id) in people.iter().zip(user_ids) {
                let assignment_id = insert_returning_id!(
                    $db,
                    tx,
                    "INSERT INTO assignment (user_id, campaign_id, max_contacts)",
                    user_id,
                    campaign_id,
                    None::<i32>,
                );
                let name = format!("{} {}", user.first_name, user.last_name);
                let role = user.role.as_str();
                texters.push(DemoTexter { user_id, assignment_id, name, role });
            }

            let owners = |wanted: fn(Inbox) -> bool| {
                people
                    .iter()
                    .zip(&texters)
                    .filter(|(user, _)| wanted(user.inbox))
                    .map(|(_, texter)| texter.assignment_id)
                    .collect()
            };
            let mut contacts = ContactGenerator::new(
                rng,
                owners(|inbox| inbox != Inbox::Empty),
                owners(|inbox| inbox == Inbox::RepliesWaiting),
            );
            let progress = progress_bar(options);
            let mut rows = Vec::with_capacity(CHUNK_ROWS as usize);
            let mut uncommitted = 0;
            while contacts.generated < options.contacts {
                let chunk = CHUNK_ROWS.min(options.contacts - contacts.generated);
                rows.extend((0..chunk).map(|_| contacts.next_row()));
                // external_id and custom_fields keep their defaults, '' and '{}'.
                let mut query = QueryBuilder::<$db>::new(
                    "INSERT INTO campaign_contact (campaign_id, assignment_id, first_name, last_name, \
                     cell, zip, message_status, is_opted_out, timezone_offset) ",
                );
                query.push_values(rows.drain(..), |mut values, contact| {
                    values
                        .push_bind(campaign_id)
                        .push_bind(contact.assignment_id)
                        .push_bind(contact.first_name)
                        .push_bind(contact.last_name)
                        .push_bind(contact.cell)
                        .push_bind(contact.zip)
                        .push_bind(contact.message_status.as_str())
                        .push_bind(contact.is_opted_out)
                        .push_bind(contact.timezone_offset);
                });
                query.build().execute(&mut *tx).await?;
                progress.inc(chunk);
                uncommitted += chunk;
                if uncommitted >= TRANSACTION_ROWS && contacts.generated < options.contacts {
                    tx.commit().await?;
                    tx = <$db as Dialect>::begin_transaction(pool).await?;
                    uncommitted = 0;
                }
            }
            tx.commit().await?;
            progress.finish();

            Ok(SeedSummary {
                organization_id,
                campaign_id,
                contacts: options.contacts,
                texters,
                join_token,
            })
        }
    };
}

impl_seed!(seed_sqlite, sqlx::Sqlite);
impl_seed!(seed_postgres, sqlx::Postgres);

/// A bar on stderr, or a hidden one.
fn progress_bar(options: &SeedOptions) -> ProgressBar {
    if !options.progress {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(options.contacts), ProgressDrawTarget::stderr());
    // The template is a constant, so it always parses; the default style is only a fallback.
    let style = ProgressStyle::with_template("{bar} {pos}/{len} contacts ({per_sec}, eta {eta})")
        .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar
}

#[cfg(test)]
mod tests {
    use std::collections::{HashMap, HashSet};

    use super::contacts::demo_cell;
    use super::data::{USERS, ZONES};
    use super::*;

    async fn fresh_sqlite() -> (tempfile::TempDir, Database) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("demo.sqlite").display());
        let db = Database::connect(&url).await.unwrap();
        db.prepare_schema().await.unwrap();
        (dir, db)
    }

    fn sqlite(db: &Database) -> &sqlx::SqlitePool {
        match db {
            Database::Sqlite(pool) => pool,
            Database::Postgres(_) => panic!("not SQLite"),
        }
    }

    async fn count(db: &Database, sql: &str) -> i64 {
        sqlx::query_scalar(sql).fetch_one(sqlite(db)).await.unwrap()
    }

    /// Asserts `count(db, sql) == expected` for each `sql => expected`.
    macro_rules! assert_counts {
        ($db:expr; $($sql:literal => $expected:expr,)+) => {
            $(assert_eq!(count($db, $sql).await, $expected, "{}", $sql);)+
        };
    }

    #[tokio::test]
    async fn seeds_a_demo_into_an_empty_sqlite_database() {
        let (_dir, db) = fresh_sqlite().await;
        assert!(!has_data(&db).await.unwrap());
        let summary = seed_demo(
            &db,
            &SeedOptions {
                contacts: 5_000,
                progress: false,
                extra_texters: 0,
                add: false,
            },
        )
        .await
        .unwrap();
        assert!(has_data(&db).await.unwrap());
        assert_eq!(summary.contacts, 5_000);
        assert_eq!(summary.join_token.len(), 32, "{}", summary.join_token);
        assert!(summary.join_token.chars().all(|c| c.is_ascii_alphanumeric()));
        let stored: String = sqlx::query_scalar("SELECT join_token FROM campaign")
            .fetch_one(sqlite(&db))
            .await
            .unwrap();
        assert_eq!(stored, summary.join_token, "the answer gives the stored token");
        let roles: Vec<&str> = summary.texters.iter().map(|texter| texter.role).collect();
        assert_eq!(
            roles,
            [
                "ADMIN",
                "VETTED_TEXTER",
                "VETTED_TEXTER",
                "TEXTER",
                "TEXTER",
                "TEXTER",
                "TEXTER"
            ]
        );

        assert_counts! { &db;
            "SELECT COUNT(*) FROM organization WHERE name = 'Demo Organization' AND features = '{}' \
             AND NOT texting_hours_enforced" => 1,
            "SELECT COUNT(*) FROM \"user\"" => 7,
            "SELECT COUNT(*) FROM user_organization WHERE role = 'ADMIN'" => 1,
            "SELECT COUNT(*) FROM user_organization WHERE role = 'VETTED_TEXTER'" => 2,
            "SELECT COUNT(*) FROM user_organization WHERE role = 'TEXTER'" => 4,
            "SELECT COUNT(*) FROM campaign" => 1,
            "SELECT COUNT(*) FROM campaign WHERE is_started AND NOT is_archived AND use_dynamic_assignment \
             AND batch_size = 100 AND due_by IS NULL AND features IS NULL \
             AND NOT override_organization_texting_hours AND texting_hours_enforced \
             AND texting_hours_start = 9 AND texting_hours_end = 21 AND timezone = 'US/Eastern'" => 1,
            "SELECT COUNT(*) FROM assignment WHERE max_contacts IS NULL" => 7,
            "SELECT COUNT(*) FROM campaign_contact" => 5_000,
            "SELECT COUNT(DISTINCT cell) FROM campaign_contact" => 5_000,
            "SELECT COUNT(*) FROM campaign_contact WHERE external_id != '' OR custom_fields != '{}'" => 0,
            // Unknown zone, unknown zip; a known zone always has a 5-digit zip.
            "SELECT COUNT(*) FROM campaign_contact WHERE (timezone_offset = '') != (zip = '')" => 0,
            "SELECT COUNT(*) FROM campaign_contact WHERE zip != '' AND length(zip) != 5" => 0,
            // Whoever was texted belongs to a texter; the rest wait, unassigned.
            "SELECT COUNT(*) FROM campaign_contact \
             WHERE (message_status = 'needsMessage') = (assignment_id IS NOT NULL)" => 0,
            "SELECT COUNT(DISTINCT assignment_id) FROM campaign_contact" => 6,
            "SELECT COUNT(DISTINCT assignment_id) FROM campaign_contact \
             WHERE message_status = 'needsResponse'" => 3,
            "SELECT COUNT(*) FROM campaign_contact JOIN assignment ON assignment.id = assignment_id \
             JOIN user_organization USING (user_id) WHERE role = 'ADMIN'" => 0,
        }
        let texted = count(
            &db,
            "SELECT COUNT(*) FROM campaign_contact WHERE assignment_id IS NOT NULL",
        )
        .await;
        assert!((50..500).contains(&texted), "{texted} texted");
        let opted_out = count(&db, "SELECT COUNT(*) FROM campaign_contact WHERE is_opted_out").await;
        assert!((10..120).contains(&opted_out), "{opted_out} opted out");

        let zones: HashMap<String, i64> =
            sqlx::query_as("SELECT timezone_offset, COUNT(*) FROM campaign_contact GROUP BY timezone_offset")
                .fetch_all(sqlite(&db))
                .await
                .unwrap()
                .into_iter()
                .collect();
        let expected: HashSet<&str> = ZONES.iter().map(|zone| zone.offset).collect();
        assert_eq!(zones.keys().map(String::as_str).collect::<HashSet<_>>(), expected);
        let most_common = zones
            .iter()
            .max_by_key(|(_, count)| **count)
            .map(|(zone, _)| zone.as_str());
        assert_eq!(most_common, Some("-5_1"));
    }

    #[tokio::test]
    async fn refuses_a_database_that_has_campaigns() {
        let (_dir, db) = fresh_sqlite().await;
        let options = SeedOptions {
            contacts: 10,
            progress: false,
            extra_texters: 0,
            add: false,
        };
        seed_demo(&db, &options).await.unwrap();
        let again = seed_demo(&db, &options).await;
        assert!(matches!(again, Err(DemoError::NotEmpty)), "{again:?}");
        assert_eq!(count(&db, "SELECT COUNT(*) FROM campaign").await, 1);
        assert_eq!(count(&db, "SELECT COUNT(*) FROM campaign_contact").await, 10);
    }

    #[tokio::test]
    async fn adds_texters_and_more_demos_on_request() {
        let (_dir, db) = fresh_sqlite().await;
        let options = |contacts, extra_texters, add| SeedOptions {
            contacts,
            progress: false,
            extra_texters,
            add,
        };
        let first = seed_demo(&db, &options(30, 3, false)).await.unwrap();
        assert_eq!(first.texters.len(), USERS.len() + 3);
        let extra = &first.texters[USERS.len()..];
        assert!(extra.iter().all(|texter| texter.role == "TEXTER"));
        assert_eq!(extra[2].name, "Texter 3");
        let holding = count(
            &db,
            &format!(
                "SELECT COUNT(*) FROM campaign_contact WHERE assignment_id IN ({}, {}, {})",
                extra[0].assignment_id, extra[1].assignment_id, extra[2].assignment_id
            ),
        )
        .await;
        assert_eq!(holding, 0, "the added texters start with nothing");

        let second = seed_demo(&db, &options(20, 0, true)).await.unwrap();
        assert_ne!(second.campaign_id, first.campaign_id);
        assert_ne!(second.organization_id, first.organization_id);
        assert_ne!(
            second.join_token, first.join_token,
            "every seeded campaign has its own token"
        );
        assert_eq!(count(&db, "SELECT COUNT(*) FROM campaign").await, 2);
        assert_eq!(count(&db, "SELECT COUNT(*) FROM campaign_contact").await, 50);
        assert_eq!(
            count(&db, "SELECT COUNT(DISTINCT auth0_id) FROM \"user\"").await,
            (2 * USERS.len() + 3) as i64,
            "every login is distinct"
        );
    }

    #[tokio::test]
    async fn seeds_the_same_demo_every_time() {
        let mut dumps = Vec::new();
        for _ in 0..2 {
            let (_dir, db) = fresh_sqlite().await;
            seed_demo(
                &db,
                &SeedOptions {
                    contacts: 7_000,
                    progress: false,
                    extra_texters: 0,
                    add: false,
                },
            )
            .await
            .unwrap();
            let dump: Vec<String> = sqlx::query_scalar(
                "SELECT uuid FROM organization UNION ALL SELECT id || ',' || COALESCE(assignment_id, '') \
                 || ',' || first_name || ',' || last_name || ',' || cell || ',' || zip || ',' \
                 || message_status || ',' || is_opted_out || ',' || timezone_offset FROM campaign_contact",
            )
            .fetch_all(sqlite(&db))
            .await
            .unwrap();
            dumps.push(dump);
        }
        assert_eq!(dumps[0].len(), 7_001);
        assert_eq!(dumps[0], dumps[1]);
    }

    #[test]
    fn cells_are_distinct() {
        let cells: HashSet<String> = (0..300_000).chain(9_900_000..10_100_000).map(demo_cell).collect();
        assert_eq!(cells.len(), 500_000);
        assert!(
            cells
                .iter()
                .all(|cell| cell.len() == 12 && cell.starts_with("+155"))
        );
    }

    #[test]
    fn uuids_look_like_version_4() {
        let uuid = demo_uuid(&mut StdRng::seed_from_u64(RNG_SEED));
        assert_eq!(uuid.len(), 36);
        assert_eq!(&uuid[14..15], "4");
        assert!(matches!(&uuid[19..20], "8" | "9" | "a" | "b"), "{uuid}");
    }

    /// Seeds 1,000,000 contacts into the empty database of `SEED_BENCH_DATABASE_URL` (default: a
    /// SQLite file in a temporary directory) and prints the time. Run with `--ignored
    /// --nocapture`.
    #[tokio::test]
    #[ignore = "a benchmark: seeds a million contacts"]
    async fn seeds_a_million_contacts() {
        let dir = tempfile::tempdir().unwrap();
        let url = std::env::var("SEED_BENCH_DATABASE_URL")
            .unwrap_or_else(|_| format!("sqlite://{}", dir.path().join("demo.sqlite").display()));
        let db = Database::connect(&url).await.unwrap();
        db.prepare_schema().await.unwrap();
        let started = std::time::Instant::now();
        let summary = seed_demo(
            &db,
            &SeedOptions {
                contacts: 1_000_000,
                progress: true,
                extra_texters: 0,
                add: false,
            },
        )
        .await
        .unwrap();
        let elapsed = started.elapsed();
        eprintln!(
            "seeded {} contacts on {} in {elapsed:?}",
            summary.contacts,
            db.dialect_name()
        );
    }
}
