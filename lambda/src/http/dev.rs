//! Routes only the dev server mounts: the signed blob URLs of the local blob store (what S3's
//! presigned URLs are when deployed) and a small page to try the API in a browser.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Router};
use serde::Deserialize;

use super::{ApiError, ErrorCode};
use crate::App;
use crate::blobs::local::SignatureError;
use crate::blobs::{BlobStore, LocalBlobs};

const PAGE: &str = include_str!("dev_page.html");

#[derive(Debug, Deserialize)]
pub struct SignedQuery {
    method: String,
    expires: i64,
    max_bytes: u64,
    sig: String,
}

/// The dev-only routes, to be merged with the API's before layering.
pub fn routes(blobs: Arc<LocalBlobs>, upload_max_bytes: u64) -> Router<App> {
    let body_limit = usize::try_from(upload_max_bytes).unwrap_or(usize::MAX);
    Router::new()
        .route("/", get(page))
        .route(
            "/blobs/{*key}",
            get(download)
                .put(upload)
                .layer(DefaultBodyLimit::max(body_limit)),
        )
        .layer(Extension(blobs))
}

async fn page() -> Html<&'static str> {
    Html(PAGE)
}

fn check(
    app: &App,
    blobs: &LocalBlobs,
    method: &str,
    key: &str,
    q: &SignedQuery,
) -> Result<(), ApiError> {
    if q.method != method {
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            "this URL was signed for another method",
        ));
    }
    blobs
        .signer()
        .verify(method, key, q.expires, q.max_bytes, &q.sig, app.clock.now())
        .map_err(|e| match e {
            SignatureError::Expired => {
                ApiError::new(ErrorCode::Forbidden, "this signed URL has expired")
            }
            SignatureError::Invalid => {
                ApiError::new(ErrorCode::Forbidden, "this URL's signature is not valid")
            }
        })
}

fn query(
    q: Result<Query<SignedQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<SignedQuery, ApiError> {
    q.map(|Query(q)| q)
        .map_err(|_| ApiError::new(ErrorCode::Forbidden, "this URL is not signed"))
}

async fn download(
    State(app): State<App>,
    Extension(blobs): Extension<Arc<LocalBlobs>>,
    Path(key): Path<String>,
    q: Result<Query<SignedQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let q = query(q)?;
    check(&app, &blobs, "GET", &key, &q)?;
    let blob = blobs
        .get(&key)
        .await?
        .ok_or_else(|| ApiError::new(ErrorCode::NotFound, "no such object"))?;
    let mut res = blob.data.into_response();
    if let Ok(ct) = HeaderValue::from_str(&blob.content_type) {
        res.headers_mut().insert(header::CONTENT_TYPE, ct);
    }
    Ok(res)
}

async fn upload(
    State(app): State<App>,
    Extension(blobs): Extension<Arc<LocalBlobs>>,
    Path(key): Path<String>,
    q: Result<Query<SignedQuery>, axum::extract::rejection::QueryRejection>,
    headers: axum::http::HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<StatusCode, ApiError> {
    let q = query(q)?;
    check(&app, &blobs, "PUT", &key, &q)?;
    let body = body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(ErrorCode::PayloadTooLarge, "the upload is too large")
                .with_detail("body", "too_large")
        } else {
            ApiError::new(ErrorCode::InvalidRequest, "the upload could not be read")
        }
    })?;
    if body.len() as u64 > q.max_bytes {
        return Err(ApiError::new(
            ErrorCode::PayloadTooLarge,
            format!("uploads are limited to {} bytes", q.max_bytes),
        )
        .with_detail("body", "too_large"));
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/octet-stream");
    blobs.put(&key, content_type, body.to_vec()).await?;
    Ok(StatusCode::OK)
}
