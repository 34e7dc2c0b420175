//! Key management for admins: create, rotate (with a grace period), revoke.

use axum::Json;
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
    /// 1..=64 of [a-z0-9_-].
    pub tenant: String,
    pub scopes: Vec<Scope>,
    pub rate_per_minute: Option<u32>,
    pub burst: Option<u32>,
    pub daily_quota: Option<u32>,
    pub monthly_quota: Option<u32>,
    /// RFC 3339; the key stops working then.
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>)]
    pub expires_at: Option<OffsetDateTime>,
}

#[utoipa::path(
    post, path = "/v1/admin/keys", tag = "admin",
    request_body = CreateKeyRequest,
    security(("api_key" = [])),
    responses(
        (status = 201, body = KeyView),
        (status = 400, body = ErrorEnvelope), (status = 401, body = ErrorEnvelope),
        (status = 403, body = ErrorEnvelope), (status = 415, body = ErrorEnvelope),
        (status = 429, body = ErrorEnvelope),
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

/// Every broken rule as a `details` entry of one 400.
fn invalid_key_request(e: keys::InvalidKey) -> ApiError {
    e.problems.iter().fold(
        ApiError::new(ErrorCode::InvalidRequest, "the key request is invalid"),
        |err, p| err.with_detail(p.field, p.issue),
    )
}

async fn load_active(app: &App, key_id: &str) -> Result<keys::ApiKey, ApiError> {
    let not_found = || ApiError::new(ErrorCode::NotFound, "no such api key");
    if !keys::valid_key_id(key_id) {
        return Err(not_found().with_detail("key_id", "malformed"));
    }
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
    params(("key_id" = String, Path)),
    security(("api_key" = [])),
    responses(
        (status = 200, body = KeyView),
        (status = 401, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope), (status = 409, body = ErrorEnvelope),
        (status = 429, body = ErrorEnvelope),
    )
)]
pub async fn rotate_key(
    State(app): State<App>,
    _auth: Authorized<scope::Admin>,
    Path(key_id): Path<String>,
) -> Result<Json<KeyView>, ApiError> {
    let key = load_active(&app, &key_id).await?;
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
    params(("key_id" = String, Path)),
    security(("api_key" = [])),
    responses(
        (status = 200, body = RevokedKey),
        (status = 401, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope), (status = 409, body = ErrorEnvelope),
        (status = 429, body = ErrorEnvelope),
    )
)]
pub async fn revoke_key(
    State(app): State<App>,
    _auth: Authorized<scope::Admin>,
    Path(key_id): Path<String>,
) -> Result<Json<RevokedKey>, ApiError> {
    let key = load_active(&app, &key_id).await?;
    let now = app.clock.now();
    app.store
        .replace_key(&key.revoked(now), key.version)
        .await
        .map_err(changed_concurrently)?;
    tracing::info!(key_id = %key.key_id, tenant = %key.tenant, "api key revoked");
    Ok(Json(revoked(&key.key_id, now)))
}
