//! Signed upload URLs for reference images too large for a JSON body.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::ToSchema;

use crate::App;
use crate::blobs::{self, UploadBounds};
use crate::domain::ids::UploadId;
use crate::http::auth::{Authorized, scope};
use crate::http::json::JsonBody;
use crate::http::views::{UploadView, timestamp};
use crate::http::{ApiError, ErrorCode, ErrorEnvelope};
use crate::images::ImageFormat;

/// The image about to be uploaded: the URL admits exactly these bytes and nothing else.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUploadRequest {
    /// The image's media type.
    pub content_type: String,
    /// The exact size of the upload in bytes, at most the service's upload limit (`max_bytes`
    /// of the answer).
    #[serde(deserialize_with = "crate::http::json::integer")]
    pub content_length: u64,
}

/// A URL to `PUT` one reference image to; pass its `upload_id` in `reference_upload_ids`.
#[utoipa::path(
    post, path = "/v1/uploads", tag = "images",
    security(("api_key" = [])),
    request_body = CreateUploadRequest,
    responses(
        (status = 201, body = UploadView, description = "a signed URL for the upload"),
        (status = 400, body = ErrorEnvelope), (status = 401, body = ErrorEnvelope),
        (status = 403, body = ErrorEnvelope), (status = 413, body = ErrorEnvelope),
        (status = 415, body = ErrorEnvelope), (status = 429, body = ErrorEnvelope),
        (status = 500, body = ErrorEnvelope), (status = 502, body = ErrorEnvelope),
    )
)]
pub async fn create_upload(
    State(app): State<App>,
    auth: Authorized<scope::ImagesWrite>,
    body: JsonBody<CreateUploadRequest>,
) -> Result<(StatusCode, Json<UploadView>), ApiError> {
    let req = body.value;
    let max_bytes = app.config.upload_max_bytes;
    let Some(format) = ImageFormat::from_mime_type(&req.content_type) else {
        return Err(ApiError::new(
            ErrorCode::UnsupportedMediaType,
            format!("content_type: {}", super::images::mime_type_rule()),
        )
        .with_detail("content_type", "unsupported"));
    };
    // A declared length outside the limit is a field out of range (400), not a large body.
    if !(1..=max_bytes).contains(&req.content_length) {
        let issue = if req.content_length == 0 {
            "must_be_positive"
        } else {
            "too_large"
        };
        return Err(ApiError::new(
            ErrorCode::InvalidRequest,
            format!("content_length: must be an integer between 1 and {max_bytes}"),
        )
        .with_detail("content_length", issue));
    }
    let bounds = UploadBounds {
        content_type: format.mime_type(),
        content_length: req.content_length,
    };
    let upload_id = UploadId::generate();
    let key = blobs::upload_key(&auth.caller.tenant, upload_id.as_str());
    let signed = app
        .blobs
        .signed_put_url(&key, bounds, app.config.url_ttl, app.clock.now())
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(UploadView {
            upload_id: upload_id.to_string(),
            url: signed.url,
            headers: BTreeMap::from([
                ("content-type".to_owned(), bounds.content_type.to_owned()),
                (
                    "content-length".to_owned(),
                    bounds.content_length.to_string(),
                ),
            ]),
            expires_at: timestamp(signed.expires_at),
            max_bytes,
        }),
    ))
}
