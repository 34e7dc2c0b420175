//! Logging set-up shared by every binary.

/// JSON logs on Lambda (honouring `AWS_LAMBDA_LOG_LEVEL` and `AWS_LAMBDA_LOG_FORMAT`), via the
/// runtime's own subscriber so CloudWatch gets what the Lambda console expects.
pub fn init_lambda() {
    lambda_runtime::tracing::init_default_subscriber();
}
