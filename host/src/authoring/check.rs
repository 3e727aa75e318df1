//! `spoke-batches check FILE.wasm`: validates a strategy component without a database. It
//! loads the component as the host would (a component, of a WIT version the host knows, with
//! nothing but granted imports, within the size limit, `name()` equal to the file stem), then
//! runs it once against a built-in fixture and reports what it answered, the fuel and the time.

use std::path::Path;
use std::sync::Arc;

use chrono::{TimeZone, Utc};
use serde::Serialize;

use crate::filter::{ContactSelection, RequestScope, TimezoneOffsets};
use crate::model::{Assignment, Campaign, CampaignContact, MessageStatus, Organization, Role, User};
use crate::sandbox::{BatchPlan, Footprint, Sandbox, SandboxLimits, StrategyFailure, StrategyRequest};
use crate::source::MemorySource;

/// What `check` found.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckReport {
    /// The file checked.
    pub file: String,
    /// Whether every check passed.
    pub ok: bool,
    /// `name()`.
    pub name: Option<String>,
    /// `display-name()`.
    pub display_name: Option<String>,
    /// The WIT package version the component implements.
    pub wit_version: Option<&'static str>,
    /// The component's size in bytes.
    pub size: Option<u64>,
    /// What one instance takes from the pool's slot (core instances, memories, tables).
    pub per_instance: Option<Footprint>,
    /// What `request-new-batch-count` answered on the fixture, with its fuel and time.
    pub request_new_batch_count: Option<FixtureCall<u32>>,
    /// What `select-contacts` answered on the fixture, with its fuel and time.
    pub select_contacts: Option<FixtureCall<ContactSelection>>,
    /// Why the check failed.
    pub error: Option<String>,
}

/// One call on the fixture.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FixtureCall<T> {
    /// The answer.
    pub answer: T,
    /// Fuel burned.
    pub fuel_used: u64,
    /// Wall-clock time, in microseconds.
    pub micros: u128,
}

/// The built-in fixture: a started dynamic campaign with batch size 10, a vetted texter with no
/// contacts yet, and 25 available contacts (also the benchmarks' starting point).
pub fn fixture() -> (StrategyRequest, MemorySource) {
    let now = Utc
        .with_ymd_and_hms(2026, 3, 2, 17, 0, 0)
        .single()
        .unwrap_or_default();
    let contacts = (1..=25)
        .map(|id| CampaignContact {
            id,
            campaign_id: 1,
            assignment_id: None,
            message_status: MessageStatus::NeedsMessage,
            is_opted_out: false,
            timezone_offset: "-5_1".to_string(),
        })
        .collect();
    let request = StrategyRequest {
        organization: Organization {
            id: 1,
            name: "Fixture organization".into(),
            features: "{}".into(),
            texting_hours_enforced: false,
            texting_hours_start: 9,
            texting_hours_end: 21,
        },
        campaign: Campaign {
            id: 1,
            organization_id: 1,
            title: "Fixture campaign".into(),
            is_started: true,
            is_archived: false,
            use_dynamic_assignment: true,
            due_by: None,
            batch_size: Some(10),
            join_token: None,
            features: None,
            response_window: None,
            override_organization_texting_hours: false,
            texting_hours_enforced: true,
            texting_hours_start: 9,
            texting_hours_end: 21,
            timezone: "US/Eastern".into(),
        },
        assignment: Assignment {
            id: 1,
            user_id: 1,
            campaign_id: 1,
            max_contacts: None,
        },
        texter: User {
            id: 1,
            first_name: "Fixture".into(),
            last_name: "Texter".into(),
            is_superadmin: false,
        },
        has_any: false,
        number_contacts: None,
        count_cap: 10,
        now,
    };
    let source = MemorySource {
        scope: RequestScope {
            campaign_id: 1,
            assignment_id: 1,
            offsets: TimezoneOffsets {
                valid: ["-5_1".to_string(), String::new()].into(),
                invalid: ["-8_1".to_string()].into(),
            }
            .into(),
        },
        contacts: Arc::new(contacts),
        assignment_user_role: Some(Role::VettedTexter),
    };
    (request, source)
}

/// Checks the component at `path` under `limits`.
pub async fn check(path: &Path, limits: SandboxLimits) -> CheckReport {
    let mut report = CheckReport {
        file: path.display().to_string(),
        ok: false,
        name: None,
        display_name: None,
        wit_version: None,
        size: std::fs::metadata(path).ok().map(|metadata| metadata.len()),
        per_instance: None,
        request_new_batch_count: None,
        select_contacts: None,
        error: None,
    };
    let sandbox = match Sandbox::new(limits) {
        Ok(sandbox) => sandbox,
        Err(error) => {
            report.error = Some(format!("{error:#}"));
            return report;
        }
    };
    let component = match sandbox.load_file(path).await {
        Ok(component) => component,
        Err(error) => {
            report.error = Some(error.to_string());
            return report;
        }
    };
    report.name = Some(component.name().to_string());
    report.display_name = Some(component.display_name().to_string());
    report.wit_version = Some(component.wit_version());
    report.per_instance = component.footprint();
    let (request, source) = fixture();
    let run = async {
        let mut session = component.start(source).await?;
        let count = session.request_new_batch_count(&request).await?;
        let plan = BatchPlan {
            number_contacts: count.value.min(request.count_cap),
            contacts_count: 0,
        };
        let selection = session.select_contacts(&request, plan).await?;
        Ok::<_, StrategyFailure>((count, selection))
    };
    match run.await {
        Ok((count, selection)) => {
            report.request_new_batch_count = Some(FixtureCall {
                answer: count.value,
                fuel_used: count.fuel_used,
                micros: count.duration.as_micros(),
            });
            report.select_contacts = Some(FixtureCall {
                answer: selection.value,
                fuel_used: selection.fuel_used,
                micros: selection.duration.as_micros(),
            });
            report.ok = true;
        }
        Err(failure) => report.error = Some(failure.to_string()),
    }
    report
}

/// `n` and `thing`, plural unless `n` is 1 ("1 memory", "3 memories").
fn counted(n: u32, thing: &str) -> String {
    match (n, thing.strip_suffix('y')) {
        (1, _) => format!("1 {thing}"),
        (_, Some(stem)) => format!("{n} {stem}ies"),
        _ => format!("{n} {thing}s"),
    }
}

/// The report for people.
pub fn human(report: &CheckReport) -> String {
    let mut lines = vec![format!(
        "{}: {}",
        report.file,
        if report.ok { "OK" } else { "FAILED" }
    )];
    if let (Some(name), Some(display_name)) = (&report.name, &report.display_name) {
        lines.push(format!("  strategy      {name} (\"{display_name}\")"));
    }
    if let Some(version) = report.wit_version {
        lines.push(format!("  implements    {version}"));
    }
    if let Some(size) = report.size {
        lines.push(format!("  size          {size} bytes"));
    }
    if let Some(needs) = &report.per_instance {
        lines.push(format!(
            "  per instance  {}, {}, {}",
            counted(needs.core_instances, "core instance"),
            counted(needs.memories, "memory"),
            counted(needs.tables, "table")
        ));
    }
    if let Some(call) = &report.request_new_batch_count {
        lines.push(format!(
            "  request-new-batch-count on the fixture: {} ({} fuel, {} µs)",
            call.answer, call.fuel_used, call.micros
        ));
    }
    if let Some(call) = &report.select_contacts {
        let replaced = match (&call.answer.batch_query, &call.answer.has_current_query) {
            (None, None) => "keeps the default queries".to_string(),
            (batch, current) => format!(
                "replaces {}",
                [
                    batch.as_ref().map(|_| "the batch query"),
                    current.as_ref().map(|_| "the has-current query")
                ]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" and ")
            ),
        };
        lines.push(format!(
            "  select-contacts on the fixture: {replaced} ({} fuel, {} µs)",
            call.fuel_used, call.micros
        ));
    }
    if let Some(error) = &report.error {
        lines.push(format!("  error         {error}"));
    }
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::counted;

    #[test]
    fn counts_read_as_english() {
        assert_eq!(counted(1, "memory"), "1 memory");
        assert_eq!(counted(3, "memory"), "3 memories");
        assert_eq!(counted(1, "core instance"), "1 core instance");
        assert_eq!(counted(13, "core instance"), "13 core instances");
        assert_eq!(counted(0, "table"), "0 tables");
    }
}
