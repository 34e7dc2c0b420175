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
use crate::blobs::local::LocalBlobs;
use crate::blobs::local::{Grant, SignatureError};
use crate::blobs::{BlobStore, UploadBounds};

const PAGE: &str = include_str!("dev_page.html");

#[derive(Debug, Deserialize)]
pub struct SignedQuery {
    method: String,
    expires: i64,
    /// Uploads only: what the client declared, and must send.
    content_type: Option<String>,
    content_length: Option<u64>,
    sig: String,
}

impl SignedQuery {
    fn upload(&self) -> Option<UploadBounds<'_>> {
        Some(UploadBounds {
            content_type: self.content_type.as_deref()?,
            content_length: self.content_length?,
        })
    }
}

/// The dev server's router: the API's routes and the dev-only ones, under the shared layers.
pub fn router(app: App, blobs: Arc<LocalBlobs>) -> Router {
    let upload_max_bytes = app.config.upload_max_bytes;
    super::with_layers(
        super::api_routes_router().merge(routes(blobs, upload_max_bytes)),
        app,
    )
}

/// The dev-only routes.
fn routes(blobs: Arc<LocalBlobs>, upload_max_bytes: u64) -> Router<App> {
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
    let grant = Grant {
        method,
        key,
        expires: q.expires,
        upload: q.upload(),
    };
    blobs
        .signer()
        .verify(&grant, &q.sig, app.clock.now())
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
    let headers = res.headers_mut();
    if let Ok(ct) = HeaderValue::from_str(&blob.content_type) {
        headers.insert(header::CONTENT_TYPE, ct);
    }
    if let Ok(disposition) = HeaderValue::from_str(&crate::blobs::content_disposition(&key)) {
        headers.insert(header::CONTENT_DISPOSITION, disposition);
    }
    // The bytes are an image whose type came from the bytes; make sure no browser reads them
    // as anything else, or runs anything in them.
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'"),
    );
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
    // As S3 does with a presigned PUT: the signature covers the declared type and length,
    // so any other upload does not match it.
    let declared = q.upload().ok_or_else(|| {
        ApiError::new(
            ErrorCode::Forbidden,
            "this URL was not signed for an upload",
        )
    })?;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mut mismatch = ApiError::new(
        ErrorCode::Forbidden,
        "the upload does not match the content type and length this URL was signed for",
    );
    if content_type != declared.content_type {
        mismatch = mismatch.with_detail("content-type", "does_not_match_signed");
    }
    if body.len() as u64 != declared.content_length {
        mismatch = mismatch.with_detail("content-length", "does_not_match_signed");
    }
    if !mismatch.details.is_empty() {
        return Err(mismatch);
    }
    blobs.put(&key, content_type, body.to_vec()).await?;
    Ok(StatusCode::OK)
}
