//! Configuration, resolved exactly as Spoke's `getConfig` does: a key in an organization's (or
//! campaign's) `features` JSON wins over the process environment, an empty value counts as
//! unset. The process environment is read once, into [`Environment`]; nothing else in the host
//! reads it.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use std::time::Duration;

use crate::model::{Campaign, Organization};
use crate::sandbox::limits::LimitOverrides;

/// Spoke's default `DYNAMICASSIGNMENT_BATCHES`; without campaign-level configuration only its
/// first entry is enabled.
pub const DEFAULT_STRATEGIES: &str = "finished-replies-tz,vetted-texters,finished-replies";

/// Spoke's default texter sideboxes when `TEXTER_SIDEBOXES` is not set at all.
const DEFAULT_SIDEBOXES: [&str; 6] = [
    "celebration-gif",
    "default-dynamicassignment",
    "default-releasecontacts",
    "contact-reference",
    "default-editinitial",
    "tag-contact",
];

/// A configuration value that cannot be used, naming where it came from.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{location}: {problem}")]
pub struct ConfigError {
    location: String,
    problem: String,
}

impl ConfigError {
    fn new(location: impl Into<String>, problem: impl Into<String>) -> Self {
        ConfigError {
            location: location.into(),
            problem: problem.into(),
        }
    }
}

/// A snapshot of the process environment (or of any key-value source, in tests).
#[derive(Debug, Clone, Default)]
pub struct Environment {
    vars: BTreeMap<String, String>,
}

impl Environment {
    /// Reads the process environment. The only place the host does.
    pub fn from_process() -> Self {
        Environment {
            vars: std::env::vars().collect(),
        }
    }

    /// An environment holding exactly `vars`.
    pub fn from_pairs<K: Into<String>, V: Into<String>>(vars: impl IntoIterator<Item = (K, V)>) -> Self {
        Environment {
            vars: vars
                .into_iter()
                .map(|(key, value)| (key.into(), value.into()))
                .collect(),
        }
    }

    /// The value of `key`, `None` when absent or empty.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.vars
            .get(key)
            .map(String::as_str)
            .filter(|value| !value.is_empty())
    }
}

/// A parsed `features` column: a JSON object (empty when the column is empty).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Features(Map<String, Value>);

/// What a `features` object says about one key.
enum Lookup {
    /// The key is absent: fall back to the next source.
    Absent,
    /// The key is present; `None` when its value is empty, `null` or `false`.
    Present(Option<String>),
}

impl Features {
    /// Parses a `features` column; `location` names the row for the error message.
    pub fn parse(text: Option<&str>, location: &str) -> Result<Self, ConfigError> {
        let text = text.map(str::trim).unwrap_or_default();
        if text.is_empty() {
            return Ok(Features::default());
        }
        match serde_json::from_str(text) {
            Ok(Value::Object(map)) => Ok(Features(map)),
            Ok(Value::Null) => Ok(Features::default()),
            Ok(_) => Err(ConfigError::new(location, "features must be a JSON object")),
            Err(error) => Err(ConfigError::new(
                location,
                format!("features is not valid JSON ({error}); fix the column or set it to '{{}}'"),
            )),
        }
    }

    fn lookup(&self, key: &str) -> Lookup {
        match self.0.get(key) {
            None => Lookup::Absent,
            Some(Value::Null | Value::Bool(false)) => Lookup::Present(None),
            Some(Value::String(text)) if text.is_empty() => Lookup::Present(None),
            Some(Value::String(text)) => Lookup::Present(Some(text.clone())),
            Some(other) => Lookup::Present(Some(other.to_string())),
        }
    }

    /// The raw JSON value of `key`.
    fn value(&self, key: &str) -> Option<&Value> {
        self.0.get(key)
    }
}

/// What marks a `features` key as a secret (compared in upper case): Spoke keeps credentials
/// there, such as `TWILIO_AUTH_TOKEN_ENCRYPTED`, and a strategy must never see them.
const SECRET_KEY_PARTS: [&str; 5] = ["SECRET", "TOKEN", "PASSWORD", "API_KEY", "AUTH"];

/// A `features` key ending in this is a secret too (Spoke's encrypted settings).
const SECRET_KEY_SUFFIX: &str = "_ENCRYPTED";

/// Whether a `features` key looks like a secret: it ends in `_ENCRYPTED` or contains `SECRET`,
/// `TOKEN`, `PASSWORD`, `API_KEY` or `AUTH`, in any case.
pub fn is_secret_key(key: &str) -> bool {
    let key = key.to_ascii_uppercase();
    key.ends_with(SECRET_KEY_SUFFIX) || SECRET_KEY_PARTS.iter().any(|part| key.contains(part))
}

/// Removes the secret-looking keys ([`is_secret_key`]) from every object in `value`.
fn strip_secrets(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.retain(|key, _| !is_secret_key(key));
            map.values_mut().for_each(strip_secrets);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_secrets),
        _ => {}
    }
}

/// A `features` column as a strategy may see it: the same JSON without its secret-looking keys
/// ([`is_secret_key`]), at any depth. A text in which no such key can appear comes back as it
/// is, so the usual request pays a scan of the text, not a parse; a text that is not JSON at
/// all comes back as an empty object (the engine refuses malformed features before any
/// strategy runs, so only a caller of its own meets this).
pub fn strategy_features(text: &str) -> String {
    let upper = text.to_ascii_uppercase();
    // A backslash may escape a key's letters, so only a text without one is judged unparsed.
    let may_hold_secrets = upper.contains('\\')
        || upper.contains(SECRET_KEY_SUFFIX)
        || SECRET_KEY_PARTS.iter().any(|part| upper.contains(part));
    if !may_hold_secrets {
        return text.to_string();
    }
    match serde_json::from_str::<Value>(text) {
        Ok(mut value) => {
            strip_secrets(&mut value);
            value.to_string()
        }
        Err(_) => "{}".to_string(),
    }
}

/// Spoke's `getConfig(key, organization)`: the organization's features, else the environment.
fn org_config(key: &str, organization: &Features, env: &Environment) -> Option<String> {
    match organization.lookup(key) {
        Lookup::Present(value) => value,
        Lookup::Absent => env.get(key).map(str::to_string),
    }
}

/// Spoke's `getConfig(key, campaign, {onlyLocal: true})`: the campaign's features only.
fn campaign_config(key: &str, campaign: &Features) -> Option<String> {
    match campaign.lookup(key) {
        Lookup::Present(value) => value,
        Lookup::Absent => None,
    }
}

/// The texter UI settings (`TEXTER_UI_SETTINGS`): the campaign's, else the organization's.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TexterUiSettings(Map<String, Value>);

impl TexterUiSettings {
    /// Whether the boolean setting `key` is true (a JS-truthy value).
    pub fn flag(&self, key: &str) -> bool {
        match self.0.get(key) {
            None | Some(Value::Null) => false,
            Some(Value::Bool(flag)) => *flag,
            Some(Value::Number(number)) => number.as_f64().is_some_and(|n| n != 0.0),
            Some(Value::String(text)) => !text.is_empty(),
            Some(Value::Array(_) | Value::Object(_)) => true,
        }
    }

    /// The string setting `key`, when set and not empty.
    pub fn text(&self, key: &str) -> Option<&str> {
        self.0
            .get(key)
            .and_then(Value::as_str)
            .filter(|text| !text.is_empty())
    }

    /// Every setting, as stored.
    pub fn as_map(&self) -> &Map<String, Value> {
        &self.0
    }

    fn parse(value: &Value, location: &str) -> Result<Self, ConfigError> {
        let parsed = match value {
            // Spoke stores the settings as a JSON string inside the features JSON.
            Value::String(text) if text.trim().is_empty() => return Ok(TexterUiSettings::default()),
            Value::String(text) => serde_json::from_str(text).map_err(|error| {
                ConfigError::new(
                    location,
                    format!("TEXTER_UI_SETTINGS is not valid JSON ({error})"),
                )
            })?,
            Value::Null => return Ok(TexterUiSettings::default()),
            other => other.clone(),
        };
        match parsed {
            Value::Object(map) => Ok(TexterUiSettings(map)),
            Value::Null => Ok(TexterUiSettings::default()),
            _ => Err(ConfigError::new(
                location,
                "TEXTER_UI_SETTINGS must be a JSON object",
            )),
        }
    }
}

/// Everything the host needs to know about one campaign's configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct CampaignSettings {
    /// The enabled batch strategies, the default first.
    pub strategies: Vec<String>,
    /// `MAX_TEXTERS_PER_CAMPAIGN`.
    pub max_texters_per_campaign: Option<i64>,
    /// `MAX_CONTACTS_PER_TEXTER`: the `max_contacts` of a new assignment.
    pub max_contacts_per_texter: Option<i32>,
    /// `CAMPAIGN_INVITES_CURRENT_USERS_ONLY`: only existing members may join by link.
    pub invites_current_users_only: bool,
    /// The enabled texter sideboxes (`TEXTER_SIDEBOXES`).
    pub sideboxes: Vec<String>,
    /// The texter UI settings, campaign first, else organization.
    pub texter_ui: TexterUiSettings,
    /// `takeConversationsOutboundUnassign` of the campaign's own `TEXTER_UI_SETTINGS` (Spoke's
    /// outbound-unassign handler reads only the campaign's).
    pub outbound_unassign: bool,
    /// `DEFAULT_TZ`.
    pub default_tz: Option<String>,
    /// `DST_REFERENCE_TIMEZONE`.
    pub dst_reference_tz: Option<String>,
    /// The organization's changes to the sandbox limits.
    pub limits: LimitOverrides,
}

impl CampaignSettings {
    /// Resolves the settings of `campaign` in `organization`.
    pub fn resolve(
        organization: &Organization,
        campaign: &Campaign,
        env: &Environment,
    ) -> Result<Self, ConfigError> {
        let org_location = format!("organization {} features", organization.id);
        let campaign_location = format!("campaign {} features", campaign.id);
        let org = Features::parse(Some(&organization.features), &org_location)?;
        let own = Features::parse(campaign.features.as_deref(), &campaign_location)?;

        let strategies = match campaign_config("DYNAMICASSIGNMENT_BATCHES", &own) {
            Some(list) => split_list(&list),
            None => {
                let list = org_config("DYNAMICASSIGNMENT_BATCHES", &org, env)
                    .unwrap_or_else(|| DEFAULT_STRATEGIES.to_string());
                split_list(&list).into_iter().take(1).collect()
            }
        };
        let max_texters_per_campaign = org_config("MAX_TEXTERS_PER_CAMPAIGN", &org, env)
            .map(|value| parse_number("MAX_TEXTERS_PER_CAMPAIGN", &value, &org_location))
            .transpose()?;
        let max_contacts_per_texter = org_config("MAX_CONTACTS_PER_TEXTER", &org, env)
            .map(|value| parse_number("MAX_CONTACTS_PER_TEXTER", &value, &org_location))
            .transpose()?;
        let sideboxes = match org.lookup("TEXTER_SIDEBOXES") {
            Lookup::Present(value) => value.map(|list| split_list(&list)).unwrap_or_default(),
            Lookup::Absent => match env.get("TEXTER_SIDEBOXES") {
                Some(list) => split_list(list),
                None if env.vars.contains_key("TEXTER_SIDEBOXES") => Vec::new(),
                None => DEFAULT_SIDEBOXES.iter().map(|name| name.to_string()).collect(),
            },
        };
        let own_ui = match own.value("TEXTER_UI_SETTINGS") {
            Some(value) => TexterUiSettings::parse(value, &campaign_location)?,
            None => TexterUiSettings::default(),
        };
        let outbound_unassign = own_ui.flag("takeConversationsOutboundUnassign");
        let texter_ui = if !own_ui.as_map().is_empty() {
            own_ui
        } else {
            match org.value("TEXTER_UI_SETTINGS") {
                Some(value) => TexterUiSettings::parse(value, &org_location)?,
                None => match env.get("TEXTER_UI_SETTINGS") {
                    Some(text) => TexterUiSettings::parse(&Value::String(text.to_string()), "environment")?,
                    None => TexterUiSettings::default(),
                },
            }
        };
        Ok(CampaignSettings {
            strategies,
            max_texters_per_campaign,
            max_contacts_per_texter,
            invites_current_users_only: truthy(org_config("CAMPAIGN_INVITES_CURRENT_USERS_ONLY", &org, env)),
            sideboxes,
            texter_ui,
            outbound_unassign,
            default_tz: default_tz(&org, env),
            // Spoke reads this one from the process environment only.
            dst_reference_tz: env.get("DST_REFERENCE_TIMEZONE").map(str::to_string),
            limits: limit_overrides(&org, &org_location)?,
        })
    }

    /// Whether a texter must finish their current contacts before getting more: only when the
    /// per-campaign-bulk-send sidebox is enabled and the campaign's settings do not turn it on.
    pub fn requires_finishing_current(&self) -> bool {
        self.sideboxes.iter().any(|name| name == "per-campaign-bulk-send")
            && !self.texter_ui.flag("per-campaign-bulk-send")
    }
}

/// Spoke's `getProcessEnvTz(getConfig("DEFAULT_TZ", organization))`: the organization's
/// setting, else the `DEFAULT_TZ` variable, else `TZ` unless it is `:UTC`.
fn default_tz(organization: &Features, env: &Environment) -> Option<String> {
    match organization.lookup("DEFAULT_TZ") {
        Lookup::Present(Some(zone)) => Some(zone),
        Lookup::Present(None) | Lookup::Absent => env
            .get("DEFAULT_TZ")
            .or_else(|| env.get("TZ").filter(|zone| *zone != ":UTC"))
            .map(str::to_string),
    }
}

/// The organization's `SPOKE_BATCHES_*` limit keys (organization features only: the process's
/// own limits come from the command line or its environment).
fn limit_overrides(organization: &Features, location: &str) -> Result<LimitOverrides, ConfigError> {
    fn number<T: std::str::FromStr>(
        features: &Features,
        key: &str,
        location: &str,
    ) -> Result<Option<T>, ConfigError> {
        match features.lookup(key) {
            Lookup::Present(Some(value)) => parse_number(key, &value, location).map(Some),
            Lookup::Present(None) | Lookup::Absent => Ok(None),
        }
    }
    Ok(LimitOverrides {
        fuel_per_call: number(organization, "SPOKE_BATCHES_FUEL_PER_CALL", location)?,
        deadline: number::<u64>(organization, "SPOKE_BATCHES_DEADLINE_MS", location)?
            .map(Duration::from_millis),
        memory_bytes: number::<usize>(organization, "SPOKE_BATCHES_MEMORY_MIB", location)?
            .map(|mib| mib.saturating_mul(1 << 20)),
        host_calls_per_call: number(organization, "SPOKE_BATCHES_HOST_CALLS_PER_CALL", location)?,
        log_bytes_per_call: number(organization, "SPOKE_BATCHES_LOG_BYTES_PER_CALL", location)?,
    })
}

fn split_list(list: &str) -> Vec<String> {
    list.split(',')
        .map(|name| name.trim().to_string())
        .filter(|name| !name.is_empty())
        .collect()
}

fn truthy(value: Option<String>) -> bool {
    value.is_some_and(|value| value != "0" && value != "false")
}

fn parse_number<T: std::str::FromStr>(key: &str, value: &str, location: &str) -> Result<T, ConfigError> {
    value.trim().parse().map_err(|_| {
        ConfigError::new(
            format!("{location} or the environment"),
            format!("{key} is `{value}`, which is not a whole number"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn organization(features: &str) -> Organization {
        Organization {
            id: 1,
            name: "org".into(),
            features: features.into(),
            texting_hours_enforced: false,
            texting_hours_start: 9,
            texting_hours_end: 21,
        }
    }

    fn campaign(features: Option<&str>) -> Campaign {
        Campaign {
            id: 2,
            organization_id: 1,
            title: String::new(),
            is_started: true,
            is_archived: false,
            use_dynamic_assignment: true,
            due_by: None,
            batch_size: Some(10),
            join_token: None,
            features: features.map(str::to_string),
            response_window: None,
            override_organization_texting_hours: false,
            texting_hours_enforced: true,
            texting_hours_start: 9,
            texting_hours_end: 21,
            timezone: "US/Eastern".into(),
        }
    }

    fn settings(org: &str, own: Option<&str>, env: &[(&str, &str)]) -> CampaignSettings {
        CampaignSettings::resolve(
            &organization(org),
            &campaign(own),
            &Environment::from_pairs(env.to_vec()),
        )
        .expect("valid settings")
    }

    #[test]
    fn secret_looking_keys_never_reach_a_strategy() {
        let features = r#"{"TWILIO_AUTH_TOKEN_ENCRYPTED":"abc","twilio_api_key":"k","MySecret":1,
            "SMTP_PASSWORD":"p","oauth":{"x":1},"BANDWIDTH_ENCRYPTED":"b","DB_TOKEN":"t",
            "FEWER_THAN_N_REPLIES":"4","nested":{"slack_token":"t","keep":[{"Authorization":"x","ok":true}]},
            "TEXTER_UI_SETTINGS":"{\"releaseContactsReleaseConvos\":true}"}"#;
        let seen: Value = serde_json::from_str(&strategy_features(features)).expect("JSON");
        assert_eq!(
            seen,
            serde_json::json!({
                "FEWER_THAN_N_REPLIES": "4",
                "nested": {"keep": [{"ok": true}]},
                "TEXTER_UI_SETTINGS": "{\"releaseContactsReleaseConvos\":true}",
            })
        );
        // A key spelled with escapes is still a key.
        let escaped = r#"{"TWILIO_AUTH_TOK\u0045N":"abc","n":1}"#;
        assert_eq!(strategy_features(escaped), r#"{"n":1}"#);
    }

    #[test]
    fn features_without_secrets_reach_a_strategy_as_they_are() {
        for text in [
            "",
            "{}",
            r#"{"DYNAMICASSIGNMENT_BATCHES": "all-texters", "FEWER_THAN_N_REPLIES": 3}"#,
        ] {
            assert_eq!(strategy_features(text), text);
        }
        // Not JSON, and it names a secret: nothing of it gets through.
        assert_eq!(strategy_features("{TOKEN: oops"), "{}");
        assert!(!is_secret_key("DYNAMICASSIGNMENT_BATCHES"));
        assert!(!is_secret_key("TEXTER_UI_SETTINGS"));
        assert!(is_secret_key("twilio_auth_token_encrypted"));
        assert!(is_secret_key("X_ENCRYPTED"));
    }

    #[test]
    fn default_tz_falls_back_to_the_environment_then_tz() {
        assert_eq!(settings("", None, &[]).default_tz, None);
        assert_eq!(settings("", None, &[("TZ", ":UTC")]).default_tz, None);
        assert_eq!(
            settings("", None, &[("TZ", "US/Central")]).default_tz.as_deref(),
            Some("US/Central")
        );
        let env = [("DEFAULT_TZ", "US/Pacific"), ("TZ", "US/Central")];
        assert_eq!(settings("", None, &env).default_tz.as_deref(), Some("US/Pacific"));
        let org = r#"{"DEFAULT_TZ":"US/Mountain"}"#;
        assert_eq!(
            settings(org, None, &env).default_tz.as_deref(),
            Some("US/Mountain")
        );
        assert_eq!(
            settings(r#"{"DEFAULT_TZ":""}"#, None, &env).default_tz.as_deref(),
            Some("US/Pacific")
        );
    }

    #[test]
    fn the_dst_reference_comes_from_the_environment_only() {
        let org = r#"{"DST_REFERENCE_TIMEZONE":"US/Pacific"}"#;
        assert_eq!(settings(org, None, &[]).dst_reference_tz, None);
        let env = [("DST_REFERENCE_TIMEZONE", "US/Central")];
        assert_eq!(
            settings(org, None, &env).dst_reference_tz.as_deref(),
            Some("US/Central")
        );
    }

    #[test]
    fn default_strategies_keep_only_the_first() {
        assert_eq!(settings("", None, &[]).strategies, ["finished-replies-tz"]);
    }

    #[test]
    fn organization_and_environment_lists_keep_only_their_first_entry() {
        let env = [("DYNAMICASSIGNMENT_BATCHES", "all-texters,vetted-texters")];
        assert_eq!(settings("{}", None, &env).strategies, ["all-texters"]);
        let org = r#"{"DYNAMICASSIGNMENT_BATCHES":"vetted-texters,all-texters"}"#;
        assert_eq!(settings(org, None, &env).strategies, ["vetted-texters"]);
    }

    #[test]
    fn a_campaign_list_enables_every_entry_in_order() {
        let own = r#"{"DYNAMICASSIGNMENT_BATCHES":"vetted-texters,vetted-takeconversations"}"#;
        let env = [("DYNAMICASSIGNMENT_BATCHES", "all-texters")];
        assert_eq!(
            settings("", Some(own), &env).strategies,
            ["vetted-texters", "vetted-takeconversations"]
        );
    }

    #[test]
    fn empty_values_count_as_unset() {
        let env = [
            ("DYNAMICASSIGNMENT_BATCHES", ""),
            ("MAX_TEXTERS_PER_CAMPAIGN", ""),
        ];
        let resolved = settings("", Some(r#"{"DYNAMICASSIGNMENT_BATCHES":""}"#), &env);
        assert_eq!(resolved.strategies, ["finished-replies-tz"]);
        assert_eq!(resolved.max_texters_per_campaign, None);
    }

    #[test]
    fn organization_features_win_over_the_environment() {
        let env = [
            ("MAX_TEXTERS_PER_CAMPAIGN", "5"),
            ("MAX_CONTACTS_PER_TEXTER", "50"),
        ];
        let resolved = settings(r#"{"MAX_TEXTERS_PER_CAMPAIGN": 3}"#, None, &env);
        assert_eq!(resolved.max_texters_per_campaign, Some(3));
        assert_eq!(resolved.max_contacts_per_texter, Some(50));
    }

    #[test]
    fn malformed_features_name_the_row() {
        let error =
            CampaignSettings::resolve(&organization("{oops"), &campaign(None), &Environment::default())
                .expect_err("malformed");
        assert!(
            error
                .to_string()
                .starts_with("organization 1 features: features is not valid JSON"),
            "{error}"
        );
        let bad_number = CampaignSettings::resolve(
            &organization(r#"{"MAX_TEXTERS_PER_CAMPAIGN":"lots"}"#),
            &campaign(None),
            &Environment::default(),
        )
        .expect_err("not a number");
        assert!(
            bad_number
                .to_string()
                .contains("MAX_TEXTERS_PER_CAMPAIGN is `lots`"),
            "{bad_number}"
        );
    }

    #[test]
    fn texter_ui_settings_come_from_the_campaign_else_the_organization() {
        let org = r#"{"TEXTER_UI_SETTINGS":"{\"releaseContactsBatchLabel\":\"Org label\"}"}"#;
        assert_eq!(
            settings(org, None, &[])
                .texter_ui
                .text("releaseContactsBatchLabel"),
            Some("Org label")
        );
        let own = r#"{"TEXTER_UI_SETTINGS":"{\"releaseContactsBatchLabel\":\"Campaign label\"}"}"#;
        assert_eq!(
            settings(org, Some(own), &[])
                .texter_ui
                .text("releaseContactsBatchLabel"),
            Some("Campaign label")
        );
    }

    #[test]
    fn outbound_unassign_reads_only_the_campaigns_settings() {
        let on = r#"{"TEXTER_UI_SETTINGS":"{\"takeConversationsOutboundUnassign\":true}"}"#;
        assert!(settings("", Some(on), &[]).outbound_unassign);
        assert!(!settings(on, None, &[]).outbound_unassign);
    }

    #[test]
    fn finishing_current_contacts_is_required_only_with_the_bulk_send_sidebox_turned_off() {
        assert!(
            !settings("", None, &[]).requires_finishing_current(),
            "not among the default sideboxes"
        );
        let env = [(
            "TEXTER_SIDEBOXES",
            "default-dynamicassignment,per-campaign-bulk-send",
        )];
        assert!(settings("", None, &env).requires_finishing_current());
        let bulk_on = r#"{"TEXTER_UI_SETTINGS":"{\"per-campaign-bulk-send\":true}"}"#;
        assert!(!settings("", Some(bulk_on), &env).requires_finishing_current());
    }
}
