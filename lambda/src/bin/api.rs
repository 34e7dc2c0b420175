//! The API Lambda: serves the service's router through the Lambda runtime.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    imagegen::telemetry::init_lambda();
    lambda_http::run(imagegen::http::router()).await
}
