//! The worker Lambda: consumes the jobs queue with partial batch failures; each message runs
//! one attempt of its job (DynamoDB, S3, Gemini with its key from Secrets Manager).

use std::process::ExitCode;
use std::sync::Arc;

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use imagegen::aws::{self, Resources};
use imagegen::config::Config;
use imagegen::telemetry::Metrics;
use imagegen::worker::{Worker, handle_batch};
use lambda_runtime::{LambdaEvent, service_fn};

async fn run() -> Result<(), lambda_runtime::Error> {
    let config = Config::from_env()?;
    let resources = Resources::from_env()?;
    let sdk = aws::sdk_config();
    let generator = Arc::new(aws::gemini_from_env(&sdk)?);
    let metrics = Metrics::stdout(&config.metrics_namespace, &config.environment);
    let worker = Arc::new(Worker::new(
        aws::app(&sdk, config, &resources, metrics),
        generator,
    ));
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| {
        let worker = worker.clone();
        async move {
            let response: SqsBatchResponse = handle_batch(event.payload, |message, receives| {
                let worker = worker.clone();
                async move { worker.process(&message, receives).await.map(drop) }
            })
            .await;
            Ok::<_, lambda_runtime::Error>(response)
        }
    }))
    .await
}

#[tokio::main]
async fn main() -> ExitCode {
    imagegen::telemetry::init_lambda();
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "worker stopped");
            eprintln!("imagegen worker: {e}");
            ExitCode::FAILURE
        }
    }
}
