//! `POST /v1/images`: admit an image job, optionally waiting for it (`Prefer: wait=N`).

use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use base64::Engine;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use crate::App;
use crate::domain::ids::{UploadId, hex};
use crate::domain::request;
use crate::domain::webhooks::{JobWebhook, MAX_URL_LEN, UrlProblem, WebhookEvent, check_url};
use crate::http::auth::{Authorized, scope};
use crate::http::json::JsonBody;
use crate::http::observe::Notes;
use crate::http::views::{AcceptedJob, JobView, job_link};
use crate::http::{ApiError, ErrorCode, ErrorEnvelope};
use crate::images::ImageFormat;
use crate::usecases::admission::{self, Admitted, IdempotencyKey, NewImageJob, ReferenceInput};
use crate::usecases::jobs;

/// Longest `Prefer: wait=N` honoured: API Gateway ends integrations at 29 s.
pub const MAX_WAIT_SECS: u64 = 25;

/// Longest `Idempotency-Key` accepted (visible ASCII only).
pub const MAX_IDEMPOTENCY_KEY: usize = 255;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReferenceImage {
    /// Base64 (standard alphabet, padded) of a PNG, JPEG or WebP image.
    pub data: String,
    /// The format of `data`; it must be the format the bytes are in.
    pub mime_type: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateImageRequest {
    /// What to draw: 1..=4000 characters, not only whitespace, no control characters but tab
    /// and line breaks.
    pub prompt: String,
    /// Images sent inline. At most 3 reference images in all, inline and uploaded together
    /// (more is a 422).
    #[serde(default)]
    pub reference_images: Vec<ReferenceImage>,
    /// Ids from `POST /v1/uploads` whose URL received an image (an unknown or expired id is a
    /// 422).
    #[serde(default)]
    pub reference_upload_ids: Vec<String>,
    /// Width to height of the images.
    pub aspect_ratio: Option<String>,
    /// Images to generate (default 1).
    #[serde(default, deserialize_with = "crate::http::json::optional_integer")]
    pub count: Option<u8>,
    /// The format the images are delivered in: `png` (the model's own, the default), `jpeg` or
    /// `webp` (lossless, or lossy with a `quality`). The worker re-encodes; the stored type
    /// follows the bytes.
    pub output_format: Option<String>,
    /// 1..=100: JPEG quality (default 90), or lossy WebP at this quality (without it, WebP is
    /// lossless); with `output_format` `jpeg` or `webp` only (else 422).
    #[serde(default, deserialize_with = "crate::http::json::optional_integer")]
    pub quality: Option<u8>,
    /// `1K`, `2K` or `4K`, for a model that takes an image size (Gemini 3 Pro Image; with
    /// another model, 422).
    pub image_size: Option<String>,
    /// Where to POST the job's end event, signed per Standard Webhooks with the tenant's
    /// signing secret (`POST /v1/webhooks/secret` first; else 422). https, a public host, no
    /// credentials (the dev server also takes `http://127.0.0.1`). Without it, the key's
    /// default webhook, if any.
    pub webhook_url: Option<String>,
    /// Which ends are sent (default: all three); only with `webhook_url`.
    pub webhook_events: Option<Vec<WebhookEvent>>,
}

#[utoipa::path(
    post, path = "/v1/images", tag = "images",
    request_body = CreateImageRequest,
    params(
        ("Idempotency-Key" = Option<String>, Header, description = "1..=255 visible ASCII characters. The same key with the same body gives the same job; with another body, 409"),
        ("Prefer" = Option<String>, Header, description = "`wait=N` (N capped at 25): wait up to N seconds for the job to finish; other preferences are ignored"),
        ("Cancel-After" = Option<String>, Header, description = "1..=86400 (whole seconds, digits only): cancel the job if it has not finished this long after it was accepted. Images delivered by then are kept and charged; the rest are refunded"),
    ),
    security(("api_key" = [])),
    responses(
        (status = 202, body = AcceptedJob, description = "queued; poll `Location`"),
        (status = 200, body = JobView, description = "finished within `Prefer: wait`"),
        (status = 400, body = ErrorEnvelope), (status = 401, body = ErrorEnvelope),
        (status = 403, body = ErrorEnvelope), (status = 409, body = ErrorEnvelope),
        (status = 413, body = ErrorEnvelope), (status = 415, body = ErrorEnvelope),
        (status = 422, body = ErrorEnvelope), (status = 429, body = ErrorEnvelope),
        (status = 500, body = ErrorEnvelope), (status = 502, body = ErrorEnvelope),
    )
)]
pub async fn create_image(
    State(app): State<App>,
    auth: Authorized<scope::ImagesWrite>,
    notes: Option<Extension<Notes>>,
    headers: HeaderMap,
    body: JsonBody<CreateImageRequest>,
) -> Result<Response, ApiError> {
    let req = body.value;
    let issues = request::validate(
        &req.prompt,
        req.aspect_ratio.as_deref(),
        req.count,
        req.reference_images.len(),
        req.reference_upload_ids.len(),
    );
    // Three classes, answered in this order: the schema's rules (400), declared types the
    // bytes contradict (415), rules across fields (422).
    let mut err = ApiError::new(ErrorCode::InvalidRequest, "the image request is invalid");
    let mut mismatch = ApiError::new(
        ErrorCode::UnsupportedMediaType,
        "a reference image is not in its declared format",
    );
    let mut cross = ApiError::new(ErrorCode::Unprocessable, "the image request is invalid");
    let output = request::validate_output(
        req.output_format.as_deref(),
        req.quality,
        req.image_size.as_deref(),
        &app.config.model,
    );
    for issue in issues.iter().chain(&output) {
        let target = if issue.is_cross_field() {
            &mut cross
        } else {
            &mut err
        };
        target.add_problem(issue.field.clone(), issue.issue, issue.message.clone());
    }
    let webhook = webhook(
        req.webhook_url,
        req.webhook_events.as_deref(),
        app.config.webhooks_to_loopback,
        &mut err,
        &mut cross,
    );
    let mut references = Vec::new();
    for (i, image) in req.reference_images.iter().enumerate() {
        let field = |name: &str| format!("reference_images[{i}].{name}");
        let declared = ImageFormat::from_mime_type(&image.mime_type);
        if declared.is_none() {
            err.add_problem(
                field("mime_type"),
                "invalid_value",
                format!("{}: {}", field("mime_type"), mime_type_rule()),
            );
        }
        match base64::engine::general_purpose::STANDARD.decode(&image.data) {
            Ok(bytes) if !bytes.is_empty() => {
                let sniffed = crate::images::sniff(&bytes);
                if let (Some(declared), Some(sniffed)) = (declared, sniffed)
                    && declared != sniffed
                {
                    mismatch.add_problem(
                        field("mime_type"),
                        "does_not_match_data",
                        format!(
                            "{}: is {} but `data` is {}",
                            field("mime_type"),
                            declared.mime_type(),
                            sniffed.mime_type()
                        ),
                    );
                }
                references.push(ReferenceInput::Inline(bytes))
            }
            Ok(_) => err.add_problem(
                field("data"),
                "empty",
                format!("{}: must not be empty", field("data")),
            ),
            Err(_) => err.add_problem(
                field("data"),
                "invalid_base64",
                format!("{}: must be standard base64 with padding", field("data")),
            ),
        }
    }
    for (i, id) in req.reference_upload_ids.iter().enumerate() {
        match UploadId::parse(id) {
            Some(id) => references.push(ReferenceInput::Upload(id)),
            None => {
                let field = format!("reference_upload_ids[{i}]");
                let message = format!("{field}: must be an upload id (`upl_` and 32 hex digits)");
                err.add_problem(field, "malformed", message)
            }
        }
    }
    let idempotency = idempotency_key(&headers, &body.raw);
    if let Err(detail) = &idempotency {
        err.add_problem(
            "idempotency-key",
            *detail,
            format!("Idempotency-Key: must be 1 to {MAX_IDEMPOTENCY_KEY} visible ASCII characters"),
        );
    }
    let wait = prefer_wait(&headers);
    let cancel_after = match cancel_after(&headers) {
        Ok(after) => after,
        Err(()) => {
            err.add_problem(
                "cancel-after",
                "invalid",
                format!(
                    "Cancel-After: must be whole seconds, {MIN_CANCEL_AFTER} to {MAX_CANCEL_AFTER}"
                ),
            );
            None
        }
    };
    for answer in [err, mismatch, cross] {
        if !answer.details.is_empty() {
            return Err(answer);
        }
    }

    let new = NewImageJob {
        prompt: req.prompt,
        aspect_ratio: req.aspect_ratio,
        count: req.count.unwrap_or(1),
        references,
        cancel_after,
        output_format: req.output_format,
        quality: req.quality,
        image_size: req.image_size,
        webhook,
    };
    let admitted = admission::admit(&app, &auth.caller, new, idempotency.unwrap_or(None))
        .await
        .inspect_err(|e| {
            if let (Some(Extension(notes)), Some(policy)) = (&notes, e.policy()) {
                notes.add_policies(&[policy]);
            }
        })?;
    let (job, replayed) = match admitted {
        Admitted::New(job, quotas) => {
            if let Some(Extension(notes)) = &notes {
                notes.add_policies(&quotas);
            }
            tracing::info!(
                job_id = %job.job_id,
                tenant = %job.tenant,
                prompt_chars = job.params.prompt.chars().count(),
                count = job.params.count,
                references = job.params.reference_keys.len(),
                "job admitted"
            );
            (job, false)
        }
        Admitted::Replayed(job) => (job, true),
    };
    let job = match wait {
        Some(secs) => jobs::wait(&app, job, Duration::from_secs(secs)).await?,
        None => job,
    };
    let mut res = if job.status.is_final() && wait.is_some() {
        let shown = jobs::with_downloads(&app, job.clone()).await?;
        (StatusCode::OK, Json(JobView::render(&shown))).into_response()
    } else {
        (StatusCode::ACCEPTED, Json(AcceptedJob::from_job(&job))).into_response()
    };
    let h = res.headers_mut();
    if let Ok(location) = HeaderValue::from_str(&job_link(&job)) {
        h.insert(header::LOCATION, location);
    }
    if let Some(secs) = wait {
        h.insert(
            "preference-applied",
            HeaderValue::from_str(&format!("wait={secs}"))
                .unwrap_or(HeaderValue::from_static("wait")),
        );
    }
    if replayed {
        h.insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    Ok(res)
}

/// The request's webhook, its rules broken added to `err` (the schema's: 400) and `cross`
/// (422: a URL the service will not call, events without a URL). The images and the key
/// requests share it.
pub fn webhook(
    url: Option<String>,
    events: Option<&[WebhookEvent]>,
    loopback: bool,
    err: &mut ApiError,
    cross: &mut ApiError,
) -> Option<JobWebhook> {
    if let Some(events) = events {
        let mut seen = events.to_vec();
        seen.sort();
        seen.dedup();
        if events.is_empty() || seen.len() != events.len() {
            err.add_problem(
                "webhook_events",
                "invalid",
                "webhook_events: 1 to 3 different events of job.succeeded, job.failed, job.canceled",
            );
        }
        if url.is_none() {
            cross.add_problem(
                "webhook_events",
                "without_webhook_url",
                "webhook_events: only with webhook_url",
            );
        }
    }
    let url = url?;
    match check_url(&url, loopback) {
        Ok(_) => Some(JobWebhook::new(url, events.unwrap_or_default())),
        Err(problem) => {
            // Only the length is the schema's to state (400); a URI the service will not call,
            // or cannot use, is unprocessable.
            let target = if problem == UrlProblem::Malformed && url.chars().count() > MAX_URL_LEN {
                err
            } else {
                cross
            };
            target.add_problem("webhook_url", "invalid", format!("webhook_url: {problem}"));
            None
        }
    }
}

pub const MIN_CANCEL_AFTER: u64 = 1;
/// A day: longer than any job's deadline, so a larger value could never act.
pub const MAX_CANCEL_AFTER: u64 = 86_400;

/// The decimal numbers 1..=86400 without leading zeros: exactly what [`cancel_after`] takes.
pub const CANCEL_AFTER_PATTERN: &str =
    "^([1-9][0-9]{0,3}|[1-7][0-9]{4}|8[0-5][0-9]{3}|86[0-3][0-9]{2}|86400)$";

/// `Cancel-After`: whole seconds (like Replicate's), `MIN_CANCEL_AFTER..=MAX_CANCEL_AFTER`,
/// written without leading zeros ([`CANCEL_AFTER_PATTERN`]).
fn cancel_after(headers: &HeaderMap) -> Result<Option<Duration>, ()> {
    let mut values = headers.get_all("cancel-after").iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(());
    }
    let text = value.to_str().map_err(|_| ())?.trim();
    if text.is_empty()
        || text.len() > 5
        || text.starts_with('0')
        || !text.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(());
    }
    let secs: u64 = text.parse().map_err(|_| ())?;
    if !(MIN_CANCEL_AFTER..=MAX_CANCEL_AFTER).contains(&secs) {
        return Err(());
    }
    Ok(Some(Duration::from_secs(secs)))
}

/// `Idempotency-Key`: 1..=255 visible ASCII characters, bound to a hash of the body.
fn idempotency_key(
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Option<IdempotencyKey>, &'static str> {
    let Some(value) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    let key = value.to_str().map_err(|_| "not_ascii")?;
    if key.is_empty()
        || key.len() > MAX_IDEMPOTENCY_KEY
        || !key.bytes().all(|b| b.is_ascii_graphic())
    {
        return Err("invalid");
    }
    Ok(Some(IdempotencyKey {
        key: key.to_owned(),
        request_sha256: hex(&Sha256::digest(body)),
    }))
}

pub fn mime_type_rule() -> String {
    let types: Vec<_> = ImageFormat::ALL.iter().map(|f| f.mime_type()).collect();
    format!("must be one of {}", types.join(", "))
}

/// `Prefer: wait=N` (RFC 7240), capped at [`MAX_WAIT_SECS`].
pub fn prefer_wait(headers: &HeaderMap) -> Option<u64> {
    headers
        .get_all("prefer")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|pref| pref.trim().strip_prefix("wait="))
        .find_map(|n| n.trim().parse::<u64>().ok())
        .map(|n| n.min(MAX_WAIT_SECS))
}
