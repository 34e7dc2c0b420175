//! Signed upload URLs for reference images too large for a JSON body.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;

use crate::App;
use crate::blobs;
use crate::domain::ids::UploadId;
use crate::http::auth::{Authorized, scope};
use crate::http::views::{UploadView, timestamp};
use crate::http::{ApiError, ErrorEnvelope};

/// A URL to `PUT` one reference image to; pass its `upload_id` in `reference_upload_ids`.
#[utoipa::path(
    post, path = "/v1/uploads", tag = "images",
    security(("api_key" = [])),
    responses(
        (status = 201, body = UploadView),
        (status = 401, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope),
        (status = 429, body = ErrorEnvelope),
    )
)]
pub async fn create_upload(
    State(app): State<App>,
    auth: Authorized<scope::ImagesWrite>,
) -> Result<(StatusCode, Json<UploadView>), ApiError> {
    let upload_id = UploadId::generate();
    let key = blobs::upload_key(&auth.caller.tenant, upload_id.as_str());
    let max_bytes = app.config.upload_max_bytes;
    let signed = app
        .blobs
        .signed_put_url(&key, max_bytes, app.config.url_ttl, app.clock.now())
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(UploadView {
            upload_id: upload_id.to_string(),
            url: signed.url,
            expires_at: timestamp(signed.expires_at),
            max_bytes,
        }),
    ))
}
