//! The one mapping from failures to the HTTP error envelope of the v1 contract.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// Machine-readable error codes of the v1 contract; each has exactly one status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    InvalidRequest,
    Unauthorized,
    Forbidden,
    NotFound,
    MethodNotAllowed,
    Conflict,
    PayloadTooLarge,
    UnsupportedMediaType,
    /// Well-formed by the document's schema, yet unusable: a reference that is corrupt or
    /// missing, a rule spanning fields, a time already past.
    Unprocessable,
    RateLimited,
    QuotaExceeded,
    /// The model refused as many of the tenant's images today as its refusal limit allows.
    RefusalLimitExceeded,
    UpstreamError,
    Internal,
    /// The request's head or body did not arrive, or was not answered, in time (the server in
    /// front of the router: `http::serve`).
    RequestTimeout,
    /// The request target is longer than the server accepts.
    UriTooLong,
    /// The request's header fields are too many or too large.
    HeadersTooLarge,
}

impl ErrorCode {
    pub fn status(self) -> StatusCode {
        match self {
            Self::InvalidRequest => StatusCode::BAD_REQUEST,
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::Forbidden => StatusCode::FORBIDDEN,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict => StatusCode::CONFLICT,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Unprocessable => StatusCode::UNPROCESSABLE_ENTITY,
            Self::RateLimited | Self::QuotaExceeded | Self::RefusalLimitExceeded => {
                StatusCode::TOO_MANY_REQUESTS
            }
            Self::UpstreamError => StatusCode::BAD_GATEWAY,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            Self::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            Self::UriTooLong => StatusCode::URI_TOO_LONG,
            Self::HeadersTooLarge => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        }
    }
}

/// One problem with one input field, listed in the envelope's `details`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct FieldIssue {
    pub field: String,
    pub issue: String,
}

/// An error answer. Rendered by the request-id layer, which knows the request id.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
    pub details: Vec<FieldIssue>,
    pub retry_after_secs: Option<u64>,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            details: Vec::new(),
            retry_after_secs: None,
        }
    }

    pub fn with_detail(mut self, field: impl Into<String>, issue: impl Into<String>) -> Self {
        self.details.push(FieldIssue {
            field: field.into(),
            issue: issue.into(),
        });
        self
    }

    /// Records a problem with `field`; the first problem's `message` is the envelope's message.
    pub fn add_problem(
        &mut self,
        field: impl Into<String>,
        issue: impl Into<String>,
        message: impl Into<String>,
    ) {
        if self.details.is_empty() {
            self.message = message.into();
        }
        self.details.push(FieldIssue {
            field: field.into(),
            issue: issue.into(),
        });
    }

    pub fn retry_after(mut self, secs: u64) -> Self {
        self.retry_after_secs = Some(secs);
        self
    }

    /// The full envelope, as clients see it.
    pub fn to_response(&self, request_id: &str) -> Response {
        let mut res = (self.code.status(), axum::Json(self.envelope(request_id))).into_response();
        if let Some(secs) = self.retry_after_secs {
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        res
    }

    /// The envelope's JSON text, for an answer written to the socket without a response type.
    pub fn to_json(&self, request_id: &str) -> String {
        serde_json::to_string(&self.envelope(request_id)).unwrap_or_default()
    }

    fn envelope<'a>(&'a self, request_id: &'a str) -> Envelope<'a> {
        Envelope {
            error: Body {
                code: self.code,
                message: &self.message,
                request_id,
                details: &self.details,
            },
        }
    }
}

#[derive(Serialize)]
struct Envelope<'a> {
    error: Body<'a>,
}

#[derive(Serialize)]
struct Body<'a> {
    code: ErrorCode,
    message: &'a str,
    request_id: &'a str,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    details: &'a [FieldIssue],
}

/// The error envelope, as documented in the OpenAPI document.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorEnvelope {
    pub error: ErrorBody,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub code: ErrorCode,
    pub message: String,
    pub request_id: String,
    #[schema(nullable = false)]
    pub details: Option<Vec<FieldIssue>>,
}

impl ApiError {
    pub fn internal(context: &str, e: impl std::fmt::Display) -> Self {
        tracing::error!(error = %e, "{context}");
        Self::new(
            ErrorCode::Internal,
            "the service failed to handle this request; try again",
        )
    }
}

impl ApiError {
    /// A dependency (store, blob store, queue) failed: the client may retry.
    pub fn dependency(context: &str, e: impl std::fmt::Display) -> Self {
        tracing::error!(error = %e, "{context}");
        Self::new(
            ErrorCode::UpstreamError,
            "a dependency of the service failed; retry shortly",
        )
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(e: crate::store::StoreError) -> Self {
        match e {
            crate::store::StoreError::Unavailable(_) => Self::dependency("store unavailable", e),
            other => Self::internal("store error", other),
        }
    }
}

impl From<crate::blobs::BlobError> for ApiError {
    fn from(e: crate::blobs::BlobError) -> Self {
        match e {
            crate::blobs::BlobError::Unavailable(_) => {
                Self::dependency("blob store unavailable", e)
            }
            other => Self::internal("blob store error", other),
        }
    }
}

impl From<crate::usecases::jobs::QueryError> for ApiError {
    fn from(e: crate::usecases::jobs::QueryError) -> Self {
        match e {
            crate::usecases::jobs::QueryError::Store(e) => e.into(),
            crate::usecases::jobs::QueryError::Blob(e) => e.into(),
            crate::usecases::jobs::QueryError::Active(status) => Self::new(
                ErrorCode::Conflict,
                format!(
                    "the job is still {status}: cancel it (POST /v1/jobs/{{id}}/cancel) or wait \
                     for it to end, then delete it"
                ),
            )
            .with_detail("id", "job_active"),
            crate::usecases::jobs::QueryError::Contended => Self::new(
                ErrorCode::Conflict,
                "the job changed while it was being canceled; try again",
            )
            .with_detail("id", "job_changed"),
        }
    }
}

impl From<crate::usecases::keys::KeyError> for ApiError {
    fn from(e: crate::usecases::keys::KeyError) -> Self {
        use crate::usecases::keys::KeyError as E;
        match e {
            E::MalformedId(_) => {
                Self::new(ErrorCode::NotFound, "no such api key").with_detail("key_id", "malformed")
            }
            E::NotFound(_) => Self::new(ErrorCode::NotFound, "no such api key"),
            E::NotActive { .. } => {
                Self::new(ErrorCode::Conflict, "this api key is revoked or expired")
            }
            E::Changed(_) => Self::new(ErrorCode::Conflict, "the key changed concurrently; retry"),
            E::Invalid(invalid) => invalid_key_request(&invalid),
            E::Store(e) => e.into(),
            E::Gateway(_) => Self::dependency("api gateway failed", e),
            // The deployment's usage plans, not the request, are wrong.
            E::UnknownPlan { .. } | E::AmbiguousPlan(_) => Self::internal("usage plan", e),
        }
    }
}

/// Every broken rule of a key request as a `details` entry of one 400; a time already past,
/// which no schema can state, alone is a 422.
fn invalid_key_request(e: &crate::domain::keys::InvalidKey) -> ApiError {
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

/// The rule a field of a key request breaks, in the client's terms.
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

impl From<crate::usecases::admission::AdmitError> for ApiError {
    fn from(e: crate::usecases::admission::AdmitError) -> Self {
        use crate::usecases::admission::AdmitError as E;
        match e {
            E::InvalidReference {
                field,
                issue,
                message,
                unsupported,
            } => {
                // The field itself is well-formed (the schema says so); its content is not a
                // usable image: 415 for a format we do not take, 413 for too many bytes, 422 else.
                let code = if unsupported {
                    ErrorCode::UnsupportedMediaType
                } else if issue == "too_many_bytes" {
                    ErrorCode::PayloadTooLarge
                } else {
                    ErrorCode::Unprocessable
                };
                let message = format!("{field}: {message}");
                Self::new(code, message).with_detail(field, issue)
            }
            E::IdempotencyMismatch => Self::new(ErrorCode::Conflict, e.to_string())
                .with_detail("idempotency-key", "reused_with_different_body"),
            E::IdempotencyInProgress => Self::new(ErrorCode::Conflict, e.to_string())
                .with_detail("idempotency-key", "in_progress"),
            E::QuotaExceeded {
                scope, retry_after, ..
            } => Self::new(
                ErrorCode::QuotaExceeded,
                format!("the {scope} image quota is used up"),
            )
            .with_detail("quota", scope)
            .retry_after(retry_after),
            E::RefusalLimitExceeded {
                limit, retry_after, ..
            } => Self::new(
                ErrorCode::RefusalLimitExceeded,
                format!(
                    "the model refused {limit} of this tenant's images today, its daily limit; \
                     new jobs are accepted again when the day ends (UTC)"
                ),
            )
            .with_detail("quota", "daily_refusals")
            .retry_after(retry_after),
            E::NoSigningSecret => Self::new(ErrorCode::Unprocessable, e.to_string())
                .with_detail("webhook_url", "no_signing_secret"),
            E::Store(e) => e.into(),
            E::Blob(e) => e.into(),
            E::Queue(e) => Self::dependency("queue unavailable", e),
        }
    }
}

impl From<crate::usecases::webhooks::WebhookError> for ApiError {
    fn from(e: crate::usecases::webhooks::WebhookError) -> Self {
        use crate::usecases::webhooks::WebhookError as E;
        match e {
            E::Store(e) => e.into(),
            E::Queue(e) => Self::dependency("queue unavailable", e),
            E::Contended => Self::new(
                ErrorCode::Conflict,
                "the signing secret was rotated at the same time; try again",
            )
            .with_detail("secret", "changed"),
            E::NotEnded => Self::new(
                ErrorCode::Conflict,
                "the job has not ended: its event is sent when it does",
            )
            .with_detail("id", "job_active"),
            E::NoWebhook => Self::new(ErrorCode::Conflict, "the job has no webhook")
                .with_detail("id", "no_webhook"),
            E::NotSubscribed(_) => Self::new(ErrorCode::Conflict, format!("{e}"))
                .with_detail("id", "event_not_subscribed"),
            E::Retrying(_) => Self::new(ErrorCode::Conflict, format!("{e}"))
                .with_detail("id", "delivery_retrying"),
        }
    }
}

impl IntoResponse for ApiError {
    /// Defers rendering to the request-id layer: the response carries the error as an
    /// extension, and the layer turns it into the envelope with the request's id.
    fn into_response(self) -> Response {
        let mut res = self.code.status().into_response();
        res.extensions_mut().insert(self);
        res
    }
}
