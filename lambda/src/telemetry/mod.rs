//! Logs and metrics. Logs are `tracing` events (JSON on Lambda) carrying request_id, tenant,
//! job_id, route, status and latency_ms; never keys, secrets or prompt text. Metrics are
//! CloudWatch Embedded Metric Format lines, which Lambda's log pipeline turns into metrics
//! without an API call.

pub mod metrics;

pub use metrics::{Metrics, Unit};

/// JSON logs on Lambda (honouring `AWS_LAMBDA_LOG_LEVEL` and `AWS_LAMBDA_LOG_FORMAT`), via the
/// runtime's own subscriber so CloudWatch gets what the Lambda console expects.
pub fn init_lambda() {
    lambda_runtime::tracing::init_default_subscriber();
}
