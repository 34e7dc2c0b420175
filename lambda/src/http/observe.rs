//! Access logs and request metrics: one log line and one EMF record per request.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::{ApiError, ErrorCode};
use crate::App;
use crate::telemetry::Unit;

/// What the extractors learn about a request that the access log reports.
#[derive(Debug, Clone, Default)]
pub struct Notes(Arc<Mutex<NoteFields>>);

#[derive(Debug, Default)]
struct NoteFields {
    tenant: Option<String>,
    rate: Option<crate::domain::limits::RateInfo>,
}

impl Notes {
    fn with<T>(&self, f: impl FnOnce(&mut NoteFields) -> T) -> T {
        f(&mut self.0.lock().unwrap_or_else(|p| p.into_inner()))
    }

    pub fn set_tenant(&self, tenant: &str) {
        self.with(|n| n.tenant = Some(tenant.to_owned()));
    }

    pub fn set_rate(&self, rate: crate::domain::limits::RateInfo) {
        self.with(|n| n.rate = Some(rate));
    }
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
    let (tenant, rate) = notes.with(|n| (n.tenant.take(), n.rate));
    if let Some(rate) = rate {
        let h = res.headers_mut();
        h.insert("ratelimit-limit", HeaderValue::from(rate.limit));
        h.insert("ratelimit-remaining", HeaderValue::from(rate.remaining));
        h.insert("ratelimit-reset", HeaderValue::from(rate.reset_secs));
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
