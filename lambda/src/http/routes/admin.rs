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
use crate::domain::webhooks::WebhookEvent;
use crate::http::auth::{Authorized, scope};
use crate::http::json::JsonBody;
use crate::http::views::{KeyView, RevokedKey, revoked as revoked_view};
use crate::http::{ApiError, ErrorCode, ErrorEnvelope};
use crate::usecases::keys::{KeyError, Keys};
use crate::usecases::webhooks;

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
    /// The key's default webhook: where the end of its jobs is sent when a request names no
    /// `webhook_url` (same rules as there). If the tenant has no signing secret yet, one is made
    /// and shown once as `webhook_signing_secret`.
    pub webhook_url: Option<String>,
    /// Which ends the default webhook takes (default: all three); only with `webhook_url`.
    pub webhook_events: Option<Vec<WebhookEvent>>,
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
    let mut err = ApiError::new(ErrorCode::InvalidRequest, "the key request is invalid");
    let mut cross = ApiError::new(ErrorCode::Unprocessable, "the key request is invalid");
    let webhook = super::images::webhook(
        req.webhook_url,
        req.webhook_events.as_deref(),
        app.config.webhooks_to_loopback,
        &mut err,
        &mut cross,
    );
    for answer in [err, cross] {
        if !answer.details.is_empty() {
            return Err(answer);
        }
    }
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
        webhook,
    };
    // The secret before the key: a secret made for a key that then failed can be rotated,
    // while a key made and not shown is lost.
    let now = app.clock.now();
    let mut made_secret = None;
    if request.webhook.is_some() {
        request.validate(now).map_err(KeyError::Invalid)?;
        made_secret = webhooks::ensure_secret(&app, &request.tenant).await?;
    }
    let issued = Keys::of(&app).create(request, None, now).await?;
    tracing::info!(key_id = %issued.key.key_id, tenant = %issued.key.tenant, "api key created");
    let mut view = KeyView::new(&app, &issued.key, issued.plaintext);
    view.webhook_signing_secret = made_secret.map(|made| made.current);
    Ok((StatusCode::CREATED, Json(view)))
}

/// The key id of the path; a segment that is not UTF-8 is as malformed as any other id that
/// is not ours.
fn key_id(path: Result<Path<String>, PathRejection>) -> String {
    path.map(|Path(id)| id).unwrap_or_default()
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
    let grace =
        time::Duration::try_from(app.config.key_rotation_grace).unwrap_or(time::Duration::DAY);
    let (keys, now) = (Keys::of(&app), app.clock.now());
    let key = keys.existing(&self::key_id(key_id)).await?;
    let issued = keys.rotate(key, grace, None, now).await?;
    tracing::info!(key_id = %issued.key.key_id, tenant = %issued.key.tenant, "api key rotated");
    Ok(Json(KeyView::new(&app, &issued.key, issued.plaintext)))
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
    let keys = Keys::of(&app);
    let now = app.clock.now();
    // Over HTTP revoking is not idempotent: a key no longer active is a 409.
    let key = keys.active(&self::key_id(key_id), now).await?;
    let revoked = keys.revoke(key, now).await?;
    let key = &revoked.key;
    tracing::info!(key_id = %key.key_id, tenant = %key.tenant, gateway = ?revoked.gateway, "api key revoked");
    Ok(Json(revoked_view(&key.key_id, now)))
}
