//! Shared test support: the components built by `make test`, one sandbox per test binary with
//! the shipped strategies loaded, and a builder for requests over an in-memory contact table.

#![allow(dead_code)]

pub mod cli;
pub mod contacts;
pub mod db;
pub mod server;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use spoke_batches::filter::ContactSelection;
use spoke_batches::filter::{RequestScope, TimezoneOffsets};
use spoke_batches::model::{Assignment, Campaign, CampaignContact, MessageStatus, Organization, Role, User};
use spoke_batches::sandbox::{
    BatchPlan, CallJournal, CallReport, Sandbox, SandboxLimits, StrategyComponent, StrategyFailure,
    StrategyRequest,
};
use spoke_batches::source::MemorySource;
use tokio::sync::OnceCell;

/// Spoke's five strategies.
pub const SHIPPED: [&str; 5] = [
    "all-texters",
    "finished-replies",
    "finished-replies-tz",
    "vetted-texters",
    "vetted-takeconversations",
];

/// The repository root.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("host/ has a parent")
        .to_path_buf()
}

/// Where `make` puts the components it builds for wasm32-wasip2.
pub fn guest_dir() -> PathBuf {
    match std::env::var_os("SPOKE_BATCHES_GUEST_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => {
            let target = std::env::var_os("CARGO_TARGET_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| workspace_root().join("target"));
            target.join("wasm32-wasip2").join("guest")
        }
    }
}

/// The built component of the crate `name` (a strategy or a test component).
pub fn component_path(name: &str) -> PathBuf {
    let path = guest_dir().join(format!("{}.wasm", name.replace('-', "_")));
    assert!(
        path.is_file(),
        "{} is missing: run the tests with `make test`, which builds the strategies and test components first",
        path.display()
    );
    path
}

/// Copies the built component of crate `name` to `dir/<stem>.wasm`, the layout the host loads.
pub fn install(name: &str, dir: &Path, stem: &str) -> PathBuf {
    let target = dir.join(format!("{stem}.wasm"));
    std::fs::copy(component_path(name), &target).expect("copy component");
    target
}

/// A sandbox with small limits that tests can hit quickly.
pub fn test_limits() -> SandboxLimits {
    SandboxLimits {
        fuel_per_call: 20_000_000,
        memory_bytes: 16 << 20,
        ..SandboxLimits::default()
    }
}

/// The shipped strategies, `hostile` and `overreach`, loaded once per test binary.
pub struct Loaded {
    pub sandbox: Arc<Sandbox>,
    pub strategies: Vec<Arc<StrategyComponent>>,
}

impl Loaded {
    pub fn get(&self, name: &str) -> Arc<StrategyComponent> {
        self.strategies
            .iter()
            .find(|strategy| strategy.name() == name)
            .cloned()
            .unwrap_or_else(|| panic!("strategy {name} is not loaded"))
    }
}

static LOADED: OnceCell<Loaded> = OnceCell::const_new();

/// The shared sandbox with every shipped strategy, `hostile` and `overreach` loaded.
pub async fn loaded() -> &'static Loaded {
    LOADED
        .get_or_init(|| async {
            let sandbox = Sandbox::new(test_limits()).expect("sandbox");
            let mut strategies = Vec::new();
            for name in SHIPPED
                .iter()
                .copied()
                .chain(["fewer-than-n-replies", "hostile", "overreach"])
            {
                let path = component_path(name);
                let bytes = std::fs::read(&path).expect("read component");
                let renamed = path.with_file_name(format!("{name}.wasm"));
                let strategy = sandbox
                    .load_bytes(&renamed, bytes)
                    .await
                    .unwrap_or_else(|error| panic!("{error}"));
                strategies.push(strategy);
            }
            Loaded { sandbox, strategies }
        })
        .await
}

/// 2026-03-02T17:00:00Z: noon in US/Eastern (EST).
pub fn noon_eastern() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 17, 0, 0)
        .single()
        .expect("valid time")
}

/// One request's world: the rows a strategy may see and the request itself.
#[derive(Debug, Clone)]
pub struct Scenario {
    pub organization: Organization,
    pub campaign: Campaign,
    pub assignment: Assignment,
    pub texter: User,
    pub role: Option<Role>,
    pub contacts: Vec<CampaignContact>,
    pub offsets: TimezoneOffsets,
    pub has_any: bool,
    pub number_contacts: Option<u32>,
    pub count_cap: u32,
    pub now: DateTime<Utc>,
}

impl Scenario {
    /// A started dynamic campaign with batch size 10, a texter with role TEXTER and an empty
    /// assignment, no contacts yet, `-5_1` valid now and `-8_1` not.
    pub fn new() -> Self {
        Scenario {
            organization: Organization {
                id: 1,
                name: "Test org".into(),
                features: "{}".into(),
                texting_hours_enforced: false,
                texting_hours_start: 9,
                texting_hours_end: 21,
            },
            campaign: Campaign {
                id: 10,
                organization_id: 1,
                title: "ok".into(),
                is_started: true,
                is_archived: false,
                use_dynamic_assignment: true,
                due_by: None,
                batch_size: Some(10),
                join_token: Some("token".into()),
                features: None,
                response_window: None,
                override_organization_texting_hours: false,
                texting_hours_enforced: true,
                texting_hours_start: 9,
                texting_hours_end: 21,
                timezone: "US/Eastern".into(),
            },
            assignment: Assignment {
                id: 100,
                user_id: 5,
                campaign_id: 10,
                max_contacts: None,
            },
            texter: User {
                id: 5,
                first_name: "Tex".into(),
                last_name: "Ter".into(),
                is_superadmin: false,
            },
            role: Some(Role::Texter),
            contacts: Vec::new(),
            offsets: TimezoneOffsets {
                valid: ["-5_1".to_string(), String::new()].into(),
                invalid: ["-8_1".to_string()].into(),
            },
            has_any: false,
            number_contacts: None,
            count_cap: 10,
            now: noon_eastern(),
        }
    }

    /// Adds `contacts` to the campaign.
    pub fn with(mut self, contacts: contacts::Contacts) -> Self {
        for _ in 0..contacts.count {
            let id = self.contacts.len() as i64 + 1;
            self.contacts.push(CampaignContact {
                id,
                campaign_id: self.campaign.id,
                assignment_id: contacts.assignment,
                message_status: contacts.status,
                is_opted_out: contacts.opted_out,
                timezone_offset: contacts.offset.clone(),
            });
        }
        self
    }

    /// Adds `count` contacts of ANOTHER campaign (which no answer may count).
    pub fn with_other_campaign_contacts(mut self, count: usize) -> Self {
        for _ in 0..count {
            let id = self.contacts.len() as i64 + 1;
            self.contacts.push(CampaignContact {
                id,
                campaign_id: self.campaign.id + 1,
                assignment_id: None,
                message_status: MessageStatus::NeedsMessage,
                is_opted_out: false,
                timezone_offset: "-5_1".into(),
            });
        }
        self
    }

    pub fn request(&self) -> StrategyRequest {
        StrategyRequest {
            organization: self.organization.clone(),
            campaign: self.campaign.clone(),
            assignment: self.assignment.clone(),
            texter: self.texter.clone(),
            has_any: self.has_any,
            number_contacts: self.number_contacts,
            count_cap: self.count_cap,
            now: self.now,
        }
    }

    pub fn source(&self) -> MemorySource {
        MemorySource {
            scope: RequestScope {
                campaign_id: self.campaign.id,
                assignment_id: self.assignment.id,
                offsets: self.offsets.clone().into(),
            },
            contacts: Arc::new(self.contacts.clone()),
            assignment_user_role: self.role,
        }
    }

    /// Runs `request-new-batch-count` of `strategy` on this scenario.
    pub async fn count(&self, strategy: &str) -> Result<u32, StrategyFailure> {
        self.count_report(strategy).await.map(|(report, _)| report.value)
    }

    /// Runs `request-new-batch-count`, returning the report and the journal.
    pub async fn count_report(
        &self,
        strategy: &str,
    ) -> Result<(CallReport<u32>, CallJournal), StrategyFailure> {
        let strategy = loaded().await.get(strategy);
        let mut session = strategy.start(self.source()).await?;
        let report = session.request_new_batch_count(&self.request()).await?;
        let journal = session.finish().journal;
        Ok((report, journal))
    }

    /// Runs `select-contacts` of `strategy` with `plan`.
    pub async fn select(&self, strategy: &str, plan: BatchPlan) -> Result<ContactSelection, StrategyFailure> {
        let strategy = loaded().await.get(strategy);
        let mut session = strategy.start(self.source()).await?;
        Ok(session.select_contacts(&self.request(), plan).await?.value)
    }
}
