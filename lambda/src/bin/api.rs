//! The API Lambda: the service's router on DynamoDB, S3 and SQS, through the Lambda runtime.

use std::process::ExitCode;

use imagegen::aws;
use imagegen::config::Vars;

async fn run() -> Result<(), lambda_http::Error> {
    // A missing or bad variable stops the init phase with its name in the error.
    let app = aws::api_from_vars(&Vars(|name| std::env::var(name).ok()))?;
    // The same 414/431 envelopes as the dev server (API Gateway's own caps are lower, so this is
    // the backstop for a direct function URL or a changed gateway).
    let router = imagegen::http::serve::with_request_limits(imagegen::http::router(app));
    lambda_http::run(router).await
}

#[tokio::main]
async fn main() -> ExitCode {
    imagegen::telemetry::init_lambda();
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "api stopped");
            eprintln!("imagegen api: {e}");
            ExitCode::FAILURE
        }
    }
}
