//! The API Lambda: the service's router on DynamoDB, S3 and SQS, through the Lambda runtime.

use imagegen::aws::{self, Resources};
use imagegen::config::Config;
use imagegen::telemetry::Metrics;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    imagegen::telemetry::init_lambda();
    // A missing or bad variable stops the init phase with its name in the error.
    let config = Config::from_env()?;
    let resources = Resources::from_env()?;
    let sdk = aws::sdk_config().await;
    let metrics = Metrics::stdout(&config.metrics_namespace, &config.environment);
    let app = aws::app(&sdk, config, &resources, metrics);
    lambda_http::run(imagegen::http::router(app)).await
}
