//! Webhooks: the tenant's signing secret (made, or rotated with an overlap), a job's delivery
//! attempts, and redelivering a job's end event.

use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;

use super::jobs::{not_found, path_job_id};
use crate::App;
use crate::http::auth::{Authorized, scope};
use crate::http::views::{DeliveryList, Redelivery, SigningSecretView};
use crate::http::{ApiError, ErrorEnvelope};
use crate::usecases::webhooks;

/// Makes the tenant's webhook signing secret, or rotates it. The secret is shown only in this
/// answer. After a rotation the previous secret keeps signing beside the new one (each event
/// carries both signatures) until `previous_secret_valid_until`: switch receivers over by then.
/// Rotating again within that overlap retires the oldest secret at once.
#[utoipa::path(
    post, path = "/v1/webhooks/secret", tag = "webhooks",
    security(("api_key" = [])),
    responses(
        (status = 201, body = SigningSecretView, description = "the new secret; shown only here"),
        (status = 401, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope),
        (status = 409, body = ErrorEnvelope), (status = 429, body = ErrorEnvelope),
        (status = 500, body = ErrorEnvelope), (status = 502, body = ErrorEnvelope),
    )
)]
pub async fn rotate_secret(
    State(app): State<App>,
    auth: Authorized<scope::ImagesWrite>,
) -> Result<(StatusCode, Json<SigningSecretView>), ApiError> {
    let secrets = webhooks::rotate_secret(&app, &auth.caller.tenant).await?;
    Ok((StatusCode::CREATED, Json(SigningSecretView::new(&secrets))))
}

/// The job's webhook and its latest delivery attempts (100 at most), oldest first: each
/// attempt's status, latency and, while retrying, when the next one is.
#[utoipa::path(
    get, path = "/v1/jobs/{id}/webhooks", tag = "webhooks",
    params(("id" = String, Path, description = "job id (`job_` and 32 hex digits)")),
    security(("api_key" = [])),
    responses(
        (status = 200, body = DeliveryList, description = "the job's webhook and its attempts"),
        (status = 401, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope), (status = 429, body = ErrorEnvelope),
        (status = 500, body = ErrorEnvelope), (status = 502, body = ErrorEnvelope),
    )
)]
pub async fn list_deliveries(
    State(app): State<App>,
    auth: Authorized<scope::JobsRead>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<DeliveryList>, ApiError> {
    let job_id = path_job_id(id)?;
    let (job, attempts) = webhooks::deliveries(&app, &auth.caller.tenant, &job_id)
        .await?
        .ok_or_else(not_found)?;
    Ok(Json(DeliveryList::new(&job, &attempts)))
}

/// Sends the ended job's event again, from a first attempt, with the same `webhook-id` (a
/// receiver that handled it already can tell). 409 while the job runs, when it has no webhook,
/// or when its webhook does not take this event.
#[utoipa::path(
    post, path = "/v1/jobs/{id}/webhooks/redeliver", tag = "webhooks",
    params(("id" = String, Path, description = "job id (`job_` and 32 hex digits)")),
    security(("api_key" = [])),
    responses(
        (status = 202, body = Redelivery, description = "queued; its attempts appear in the job's deliveries"),
        (status = 401, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope), (status = 409, body = ErrorEnvelope),
        (status = 429, body = ErrorEnvelope),
        (status = 500, body = ErrorEnvelope), (status = 502, body = ErrorEnvelope),
    )
)]
pub async fn redeliver(
    State(app): State<App>,
    auth: Authorized<scope::ImagesWrite>,
    id: Result<Path<String>, PathRejection>,
) -> Result<(StatusCode, Json<Redelivery>), ApiError> {
    let job_id = path_job_id(id)?;
    let message = webhooks::redeliver(&app, &auth.caller.tenant, &job_id)
        .await?
        .ok_or_else(not_found)?;
    Ok((
        StatusCode::ACCEPTED,
        Json(Redelivery::new(&message.job_id, message.event)),
    ))
}
