//! The `/v1` handlers: the engine's operations with the CLI's JSON shapes, the strategies, the
//! texter UI settings and the dashboard's data.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value, json};

use super::auth::Authenticated;
use super::error::ApiError;
use super::extract::{Id, JsonBody, OptionalJsonBody, QueryParams};
use super::state::AppState;
use crate::engine::{
    BatchRequest, DecisionMode, DecisionPlan, DecisionRequest, Engine, EngineError, PROGRESS_CAMPAIGNS,
};
use crate::error_code::ErrorCode;
use crate::request_time::RequestTime;
use crate::spoke_config::CampaignSettings;

type ApiResult = Result<Json<Value>, ApiError>;

/// `value` as an answer's JSON. A value that cannot be serialized is a bug: a 500 `INTERNAL`
/// (the detail logged), never a `null` answer.
fn to_json(value: impl Serialize) -> Result<Value, ApiError> {
    serde_json::to_value(value).map_err(|error| {
        tracing::error!(%error, "an answer could not be serialized");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::Internal,
            "the service failed on its side while writing its answer (a bug; the service's log has the \
             details)",
        )
    })
}

/// The `now` field of a request that writes: present, it fails the body with this message.
/// A write always runs at the service's clock, or a client could move texting hours and due
/// dates and stamp that time on the rows it changes.
#[derive(Debug)]
pub struct ServerClockOnly;

impl<'de> Deserialize<'de> for ServerClockOnly {
    fn deserialize<D: Deserializer<'de>>(_deserializer: D) -> Result<Self, D::Error> {
        Err(serde::de::Error::custom(
            "`now` is refused on requests that write: they run at the service's clock (GET \
             /v1/assignments/{id}/explain?now=... shows what a request at another time would do)",
        ))
    }
}

/// The request's time: the client's `now` where a read-only request may name one, else the
/// service's clock.
fn request_time(now: Option<RequestTime>, state: &AppState) -> DateTime<Utc> {
    now.map_or_else(|| state.now(), RequestTime::get)
}

/// Runs an engine operation within the request timeout ([`Engine::within`]): `TIMEOUT` only
/// when the operation wrote nothing; once it writes, its real answer, however long it takes.
async fn within<T, F>(state: &AppState, operation: impl FnOnce(Engine) -> F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: Future<Output = Result<T, EngineError>> + Send + 'static,
{
    state
        .engine
        .within(state.request_timeout, operation)
        .await
        .map_err(ApiError::from)
}

/// The body of `POST /v1/assignments/{id}/batches`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BatchBody {
    texter_id: Option<i64>,
    number_contacts: Option<i64>,
    batch_type: Option<String>,
    #[allow(dead_code)] // refused when present
    now: Option<ServerClockOnly>,
}

pub async fn request_batch(
    State(state): State<AppState>,
    authenticated: Authenticated,
    Id(id): Id,
    JsonBody(body): JsonBody<BatchBody>,
) -> ApiResult {
    let request = BatchRequest {
        assignment_id: id,
        caller: authenticated.caller(body.texter_id)?,
        number_contacts: body.number_contacts,
        batch_type: body.batch_type,
        now: state.now(),
    };
    let outcome = within(
        &state,
        |engine| async move { engine.request_batch(request).await },
    )
    .await?;
    Ok(Json(to_json(outcome)?))
}

/// The query of `GET /v1/assignments/{id}/explain`: a batch request, at `now` if given.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExplainQuery {
    texter_id: Option<i64>,
    number_contacts: Option<i64>,
    batch_type: Option<String>,
    /// The request's time (for replays and tests); absent means now.
    now: Option<RequestTime>,
}

/// A batch request run and rolled back, with its trace.
pub async fn explain(
    State(state): State<AppState>,
    authenticated: Authenticated,
    Id(id): Id,
    QueryParams(query): QueryParams<ExplainQuery>,
) -> ApiResult {
    let request = BatchRequest {
        assignment_id: id,
        caller: authenticated.caller(query.texter_id)?,
        number_contacts: query.number_contacts,
        batch_type: query.batch_type,
        now: request_time(query.now, &state),
    };
    let (outcome, trace) = within(&state, |engine| async move {
        engine.explain_batch(request, None).await
    })
    .await?;
    Ok(Json(json!({ "outcome": outcome, "trace": trace })))
}

/// `POST /v1/assignments/{id}/decision`: a Spoke bridge asks what the strategy decides.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DecisionBody {
    /// The strategy Spoke chose; `null` (or absent) means the campaign's first enabled one.
    strategy: Option<String>,
    mode: DecisionMode,
    texter_id: Option<i64>,
    plan: Option<DecisionPlan>,
    /// It only changes an answer (nothing is written), as on explain.
    now: Option<RequestTime>,
}

pub async fn decision(
    State(state): State<AppState>,
    authenticated: Authenticated,
    Id(id): Id,
    JsonBody(body): JsonBody<DecisionBody>,
) -> ApiResult {
    let request = DecisionRequest {
        assignment_id: id,
        caller: authenticated.caller(body.texter_id)?,
        strategy: body.strategy,
        mode: body.mode,
        plan: body.plan,
        now: request_time(body.now, &state),
    };
    let decision = within(&state, |engine| async move { engine.decide(request).await }).await?;
    Ok(Json(to_json(decision)?))
}

/// `GET /v1/assignments/{id}/unassigned-count` parameters.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UnassignedQuery {
    texter_id: Option<i64>,
    now: Option<RequestTime>,
}

pub async fn unassigned_count(
    State(state): State<AppState>,
    authenticated: Authenticated,
    Id(id): Id,
    QueryParams(query): QueryParams<UnassignedQuery>,
) -> ApiResult {
    let caller = authenticated.caller(query.texter_id)?;
    let now = request_time(query.now, &state);
    let count = within(&state, |engine| async move {
        engine.has_unassigned(id, caller, now).await
    })
    .await?;
    Ok(Json(json!({ "count": count })))
}

/// `POST /v1/assignments/{id}/release`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReleaseBody {
    texter_id: Option<i64>,
    #[serde(default)]
    conversations: bool,
    #[allow(dead_code)] // refused when present
    now: Option<ServerClockOnly>,
}

pub async fn release(
    State(state): State<AppState>,
    authenticated: Authenticated,
    Id(id): Id,
    JsonBody(body): JsonBody<ReleaseBody>,
) -> ApiResult {
    let caller = authenticated.caller(body.texter_id)?;
    let released = within(&state, |engine| async move {
        engine.release(id, caller, body.conversations).await
    })
    .await?;
    Ok(Json(json!({ "released": released })))
}

/// `POST /v1/campaigns/{id}/join`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct JoinBody {
    user_id: i64,
    join_token: String,
    #[allow(dead_code)] // refused when present
    now: Option<ServerClockOnly>,
}

pub async fn join(
    State(state): State<AppState>,
    Id(id): Id,
    JsonBody(body): JsonBody<JoinBody>,
) -> ApiResult {
    let now = state.now();
    let outcome = within(&state, |engine| async move {
        engine.join(id, body.user_id, &body.join_token, now).await
    })
    .await?;
    Ok(Json(to_json(outcome)?))
}

/// `POST /v1/contacts/{id}/message-sent`: an empty body or `{}`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MessageSentBody {
    #[allow(dead_code)] // refused when present
    now: Option<ServerClockOnly>,
}

pub async fn message_sent(
    State(state): State<AppState>,
    Id(id): Id,
    OptionalJsonBody(_body): OptionalJsonBody<MessageSentBody>,
) -> ApiResult {
    let unassigned = within(&state, |engine| async move { engine.message_sent(id).await }).await?;
    Ok(Json(json!({ "unassigned": unassigned })))
}

pub async fn strategies(State(state): State<AppState>) -> ApiResult {
    Ok(Json(
        json!({ "strategies": state.engine.strategies().summaries() }),
    ))
}

/// Spoke's texter UI defaults for the dynamic-assignment and release sideboxes.
const TEXTER_UI_DEFAULTS: [(&str, Value); 8] = [
    ("dynamicAssignmentRequestMoreLabel", Value::Null),
    ("dynamicAssignmentRequestMoreMessage", Value::Null),
    ("dynamicAssignmentNothingToDoMessage", Value::Null),
    ("releaseContactsReleaseConvos", Value::Bool(false)),
    ("releaseContactsBatchLabel", Value::Null),
    ("releaseContactsConvosLabel", Value::Null),
    ("releaseContactsNonDynamicToo", Value::Bool(false)),
    ("takeConversationsOutboundUnassign", Value::Bool(false)),
];

fn default_text(key: &str) -> Option<&'static str> {
    match key {
        "dynamicAssignmentRequestMoreLabel" => Some("Send more texts"),
        "dynamicAssignmentRequestMoreMessage" => {
            Some("Finished sending all your messages, and want to send more?")
        }
        "releaseContactsBatchLabel" => Some("Done for the day"),
        "releaseContactsConvosLabel" => Some("Release all my contacts"),
        _ => None,
    }
}

/// The texter UI settings with Spoke's defaults filled in where a setting is unset or empty.
fn texter_ui_settings(settings: &CampaignSettings) -> Map<String, Value> {
    let mut filled = settings.texter_ui.as_map().clone();
    for (key, fallback) in TEXTER_UI_DEFAULTS {
        let unset = match filled.get(key) {
            None | Some(Value::Null) => true,
            Some(Value::String(text)) => text.is_empty(),
            Some(_) => false,
        };
        if unset {
            let value = default_text(key).map_or(fallback, |text| Value::String(text.to_string()));
            filled.insert(key.to_string(), value);
        }
    }
    filled
}

/// The enabled strategies of a campaign, the default first, with what serves under each name.
fn enabled_strategies(state: &AppState, settings: &CampaignSettings) -> Vec<Value> {
    let registry = state.engine.strategies();
    settings
        .strategies
        .iter()
        .enumerate()
        .map(|(position, name)| {
            let serving = registry.get(name);
            let mut strategy = json!({
                "name": name,
                "displayName": serving.map(|component| component.display_name()),
                "default": position == 0,
                "loaded": serving.is_some(),
            });
            // Why its file failed to load (nothing serves, or an earlier version still does).
            if let Some(error) = registry.entry(name).and_then(|entry| entry.error.as_ref()) {
                strategy["loadError"] = Value::String(error.to_string());
            }
            strategy
        })
        .collect()
}

pub async fn texter_ui(State(state): State<AppState>, Id(id): Id) -> ApiResult {
    let view = within(&state, |engine| async move { engine.campaign_view(id).await }).await?;
    Ok(Json(json!({
        "campaignId": view.campaign.id,
        "strategies": enabled_strategies(&state, &view.settings),
        "sideboxes": view.settings.sideboxes,
        "settings": texter_ui_settings(&view.settings),
    })))
}

/// `GET /v1/dashboard`: the strategies with their statistics, the campaigns with their
/// enabled strategies, and this process's last hour of batch requests (`traffic`).
pub async fn dashboard(State(state): State<AppState>, authenticated: Authenticated) -> ApiResult {
    // Every organization's campaigns and every strategy's statistics: the operator's view.
    authenticated.require_operator("the dashboard's data")?;
    let metrics = state.sandbox.metrics();
    let strategies: Vec<Value> = state
        .engine
        .strategies()
        .summaries()
        .into_iter()
        .map(|summary| {
            let stats = to_json(metrics.stats(&summary.name))?;
            let mut value = to_json(summary)?;
            if let Value::Object(fields) = &mut value {
                fields.insert("stats".to_string(), stats);
            }
            Ok(value)
        })
        .collect::<Result<_, ApiError>>()?;
    let campaigns = within(&state, |engine| async move {
        engine.dynamic_campaigns(PROGRESS_CAMPAIGNS).await
    })
    .await?;
    let campaigns: Vec<Value> = campaigns
        .into_iter()
        .map(|overview| {
            let id = overview.campaign.id;
            Ok(match overview.settings {
                Ok(settings) => json!({
                    "id": id,
                    "title": overview.campaign.title,
                    "strategies": enabled_strategies(&state, &settings),
                    // Counted in the background (`serve --progress-interval-ms`), never here.
                    "progress": to_json(state.engine.progress(id))?,
                }),
                Err(error) => json!({
                    "id": id,
                    "title": overview.campaign.title,
                    "error": error.to_string(),
                }),
            })
        })
        .collect::<Result<_, ApiError>>()?;
    // This process's last hour of batch requests, a minute each, recorded and read by the
    // wall clock (`trafficAt`), whatever the service's clock for requests says.
    let traffic_at = chrono::Utc::now();
    let traffic = to_json(state.engine.metrics().traffic().last_hour(traffic_at))?;
    Ok(Json(json!({
        "strategies": strategies,
        "campaigns": campaigns,
        "traffic": traffic,
        "trafficAt": traffic_at,
        "database": state.engine.database().dialect_name(),
        "serverTime": state.now(),
    })))
}
