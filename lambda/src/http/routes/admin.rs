//! Key management for admins: create, rotate (with a grace period), revoke.

use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use time::OffsetDateTime;
use utoipa::ToSchema;

use crate::App;
use crate::domain::keys::{self, KeyLimits, Scope};
use crate::http::auth::{Authorized, scope};
use crate::http::json::JsonBody;
use crate::http::views::{KeyView, RevokedKey, revoked};
use crate::http::{ApiError, ErrorCode, ErrorEnvelope};
use crate::store::StoreError;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateKeyRequest {
    /// The tenant the key acts for: 1..=64 of a-z, 0-9, `-` and `_`.
    pub tenant: String,
    /// What the key may do; `admin` implies the others.
    pub scopes: Vec<Scope>,
    /// Requests per minute (default: the service's).
    #[serde(default, deserialize_with = "crate::http::json::optional_integer")]
    pub rate_per_minute: Option<u32>,
    /// Requests per second (default: the service's).
    #[serde(default, deserialize_with = "crate::http::json::optional_integer")]
    pub burst: Option<u32>,
    /// The tenant's images per day (default: the service's).
    #[serde(default, deserialize_with = "crate::http::json::optional_integer")]
    pub daily_quota: Option<u32>,
    /// The tenant's images per month (default: the service's).
    #[serde(default, deserialize_with = "crate::http::json::optional_integer")]
    pub monthly_quota: Option<u32>,
    /// Images the model may refuse per day before new jobs get 429 `refusal_limit_exceeded`
    /// (default: the daily quota).
    #[serde(default, deserialize_with = "crate::http::json::optional_integer")]
    pub daily_refusal_limit: Option<u32>,
    /// RFC 3339; the key stops working then. A time already past is a 422.
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>)]
    pub expires_at: Option<OffsetDateTime>,
}

#[utoipa::path(
    post, path = "/v1/admin/keys", tag = "admin",
    request_body = CreateKeyRequest,
    security(("api_key" = [])),
    responses(
        (status = 201, body = KeyView, description = "the new key; `key` is shown only here"),
        (status = 400, body = ErrorEnvelope), (status = 401, body = ErrorEnvelope),
        (status = 403, body = ErrorEnvelope), (status = 413, body = ErrorEnvelope),
        (status = 415, body = ErrorEnvelope), (status = 422, body = ErrorEnvelope),
        (status = 429, body = ErrorEnvelope), (status = 500, body = ErrorEnvelope),
        (status = 502, body = ErrorEnvelope),
    )
)]
pub async fn create_key(
    State(app): State<App>,
    _auth: Authorized<scope::Admin>,
    body: JsonBody<CreateKeyRequest>,
) -> Result<(StatusCode, Json<KeyView>), ApiError> {
    let req = body.value;
    // The rules live in the domain: `cargo xtask keys create` issues keys through them too.
    let request = keys::NewKey {
        tenant: req.tenant,
        scopes: req.scopes,
        limits: KeyLimits {
            rate_per_minute: req.rate_per_minute,
            burst: req.burst,
            daily_quota: req.daily_quota,
            monthly_quota: req.monthly_quota,
            daily_refusal_limit: req.daily_refusal_limit,
        },
        expires_at: req.expires_at,
    };
    let (key, plaintext) = request
        .issue(app.clock.now())
        .map_err(invalid_key_request)?;
    app.store.create_key(&key).await?;
    tracing::info!(key_id = %key.key_id, tenant = %key.tenant, "api key created");
    Ok((
        StatusCode::CREATED,
        Json(KeyView::new(&app, &key, plaintext)),
    ))
}

/// Every broken rule as a `details` entry of one 400; a time already past, which no schema can
/// state, alone is a 422.
fn invalid_key_request(e: keys::InvalidKey) -> ApiError {
    let code = if e.problems.iter().all(|p| p.issue == "in_the_past") {
        ErrorCode::Unprocessable
    } else {
        ErrorCode::InvalidRequest
    };
    let message = e
        .problems
        .first()
        .map(|p| format!("{}: {}", p.field, key_rule(p.field)))
        .unwrap_or_else(|| "the key request is invalid".into());
    e.problems
        .iter()
        .fold(ApiError::new(code, message), |err, p| {
            err.with_detail(p.field, p.issue)
        })
}

/// The rule a field of [`CreateKeyRequest`] breaks, in the client's terms.
fn key_rule(field: &str) -> String {
    match field {
        "tenant" => format!(
            "must be 1 to {} of a-z, 0-9, `-` and `_`",
            crate::domain::ids::MAX_TENANT_LEN
        ),
        "scopes" => "must list at least one scope".into(),
        "expires_at" => "must be in the future".into(),
        _ => format!("must be an integer between 1 and {}", u32::MAX),
    }
}

async fn load_active(
    app: &App,
    key_id: Result<Path<String>, PathRejection>,
) -> Result<keys::ApiKey, ApiError> {
    let not_found = || ApiError::new(ErrorCode::NotFound, "no such api key");
    // A segment that is not UTF-8 is as malformed as any other id that is not ours.
    let Some(Path(key_id)) = key_id.ok().filter(|Path(id)| keys::valid_key_id(id)) else {
        return Err(not_found().with_detail("key_id", "malformed"));
    };
    let key_id = key_id.as_str();
    let key = app.store.get_key(key_id).await?.ok_or_else(not_found)?;
    if !key.is_active(app.clock.now()) {
        return Err(ApiError::new(
            ErrorCode::Conflict,
            "this api key is revoked or expired",
        ));
    }
    Ok(key)
}

fn changed_concurrently(e: StoreError) -> ApiError {
    match e {
        StoreError::Conflict(_) => {
            ApiError::new(ErrorCode::Conflict, "the key changed concurrently; retry")
        }
        other => other.into(),
    }
}

/// A new secret for the same key; the old secret keeps working for the grace period.
#[utoipa::path(
    post, path = "/v1/admin/keys/{key_id}/rotate", tag = "admin",
    params(("key_id" = String, Path, description = "the key's id (12 hex digits)")),
    security(("api_key" = [])),
    responses(
        (status = 200, body = KeyView, description = "the key with its new secret; `key` is shown only here"),
        (status = 401, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope), (status = 409, body = ErrorEnvelope),
        (status = 429, body = ErrorEnvelope), (status = 500, body = ErrorEnvelope),
        (status = 502, body = ErrorEnvelope),
    )
)]
pub async fn rotate_key(
    State(app): State<App>,
    _auth: Authorized<scope::Admin>,
    key_id: Result<Path<String>, PathRejection>,
) -> Result<Json<KeyView>, ApiError> {
    let key = load_active(&app, key_id).await?;
    let grace =
        time::Duration::try_from(app.config.key_rotation_grace).unwrap_or(time::Duration::DAY);
    let (next, plaintext) = key.rotated(app.clock.now(), grace);
    app.store
        .replace_key(&next, key.version)
        .await
        .map_err(changed_concurrently)?;
    tracing::info!(key_id = %key.key_id, tenant = %key.tenant, "api key rotated");
    Ok(Json(KeyView::new(&app, &next, plaintext)))
}

/// Revokes a key at once (its previous secret too).
#[utoipa::path(
    delete, path = "/v1/admin/keys/{key_id}", tag = "admin",
    params(("key_id" = String, Path, description = "the key's id (12 hex digits)")),
    security(("api_key" = [])),
    responses(
        (status = 200, body = RevokedKey, description = "revoked"),
        (status = 401, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope), (status = 409, body = ErrorEnvelope),
        (status = 429, body = ErrorEnvelope), (status = 500, body = ErrorEnvelope),
        (status = 502, body = ErrorEnvelope),
    )
)]
pub async fn revoke_key(
    State(app): State<App>,
    _auth: Authorized<scope::Admin>,
    key_id: Result<Path<String>, PathRejection>,
) -> Result<Json<RevokedKey>, ApiError> {
    let key = load_active(&app, key_id).await?;
    let now = app.clock.now();
    app.store
        .replace_key(&key.revoked(now), key.version)
        .await
        .map_err(changed_concurrently)?;
    tracing::info!(key_id = %key.key_id, tenant = %key.tenant, "api key revoked");
    Ok(Json(revoked(&key.key_id, now)))
}
