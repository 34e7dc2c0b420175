//! The API Lambda: serves the service's router through the Lambda runtime.
//!
//! The DynamoDB/S3/SQS adapters are wired here by the AWS-adapters work; until then the
//! function answers health and the OpenAPI document only.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    imagegen::telemetry::init_lambda();
    lambda_http::run(imagegen::http::meta_router()).await
}
