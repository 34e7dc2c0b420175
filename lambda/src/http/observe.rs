//! Access logs and request metrics: one log line and one EMF record per request.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::{ApiError, ErrorCode};
use crate::App;
use crate::domain::limits::{PolicyState, PolicyUnit};
use crate::telemetry::Unit;

/// What the extractors learn about a request that the access log reports.
#[derive(Debug, Clone, Default)]
pub struct Notes(Arc<Mutex<NoteFields>>);

#[derive(Debug, Default)]
struct NoteFields {
    tenant: Option<String>,
    policies: Vec<PolicyState>,
}

impl Notes {
    fn with<T>(&self, f: impl FnOnce(&mut NoteFields) -> T) -> T {
        f(&mut self.0.lock().unwrap_or_else(|p| p.into_inner()))
    }

    pub fn set_tenant(&self, tenant: &str) {
        self.with(|n| n.tenant = Some(tenant.to_owned()));
    }

    /// Where the caller stands in limits or quotas this request was checked against; a later
    /// state of the same policy replaces an earlier one.
    pub fn add_policies(&self, policies: &[PolicyState]) {
        self.with(|n| {
            for policy in policies {
                n.policies.retain(|p| p.name != policy.name);
                n.policies.push(*policy);
            }
        });
    }
}

/// `RateLimit-Policy` and `RateLimit` (draft-ietf-httpapi-ratelimit-headers-10 and later):
/// each a structured-field List with one member per policy, named by a String. Requests are
/// the draft's default quota unit; image quotas carry the service's own `imagegen-unit`
/// parameter (the draft's registry has no unit for them, and asks for a vendor prefix).
pub fn rate_limit_fields(policies: &[PolicyState]) -> Option<(String, String)> {
    if policies.is_empty() {
        return None;
    }
    let policy = policies
        .iter()
        .map(|p| {
            let unit = match p.unit {
                PolicyUnit::Requests => "",
                PolicyUnit::Images => ";imagegen-unit=\"image\"",
            };
            format!("\"{}\";q={};w={}{unit}", p.name, p.quota, p.window_secs)
        })
        .collect::<Vec<_>>()
        .join(", ");
    let state = policies
        .iter()
        .map(|p| format!("\"{}\";r={};t={}", p.name, p.remaining, p.reset_secs))
        .collect::<Vec<_>>()
        .join(", ");
    Some((policy, state))
}

pub async fn access_log(State(app): State<App>, mut req: Request, next: Next) -> Response {
    let started = Instant::now();
    let notes = Notes::default();
    req.extensions_mut().insert(notes.clone());
    let method = req.method().clone();
    // The route template, not the raw path: ids stay out of metric dimensions.
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let path_job = req
        .uri()
        .path()
        .strip_prefix("/v1/jobs/")
        .map(str::to_owned);
    let mut res = next.run(req).await;
    let (tenant, policies) = notes.with(|n| (n.tenant.take(), std::mem::take(&mut n.policies)));
    if let Some((policy, state)) = rate_limit_fields(&policies)
        && let (Ok(policy), Ok(state)) = (
            HeaderValue::from_str(&policy),
            HeaderValue::from_str(&state),
        )
    {
        let h = res.headers_mut();
        h.insert("ratelimit-policy", policy);
        h.insert("ratelimit", state);
    }
    let status = res.status().as_u16();
    let latency_ms = started.elapsed().as_secs_f64() * 1e3;
    let job_id = res
        .headers()
        .get(header::LOCATION)
        .and_then(|l| l.to_str().ok())
        .and_then(|l| l.strip_prefix("/v1/jobs/"))
        .map(str::to_owned)
        .or(path_job);
    tracing::info!(
        method = %method,
        route = %route,
        status,
        latency_ms = (latency_ms * 100.0).round() / 100.0,
        tenant = tenant.as_deref().unwrap_or("-"),
        job_id = job_id.as_deref().unwrap_or("-"),
        "request"
    );
    let class = format!("{}xx", status / 100);
    app.metrics.emit(
        &[("Route", route.as_str()), ("StatusClass", class.as_str())],
        &[
            ("Requests", 1.0, Unit::Count),
            ("Latency", latency_ms, Unit::Milliseconds),
        ],
    );
    res
}

/// A panic is a bug, never the client's fault: log it, answer the envelope.
pub fn panic_response(_payload: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("handler panicked");
    ApiError::new(
        ErrorCode::Internal,
        "the service failed to handle this request",
    )
    .into_response()
}
