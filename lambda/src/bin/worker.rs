//! The worker Lambda: consumes the jobs queue with partial batch failures; each message runs
//! one attempt of its job (DynamoDB, S3, Gemini with its key from Secrets Manager).

use std::process::ExitCode;
use std::sync::Arc;

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use imagegen::aws;
use imagegen::config::Vars;
use imagegen::worker::{Worker, handle_batch};
use lambda_runtime::{LambdaEvent, service_fn};

async fn run() -> Result<(), lambda_runtime::Error> {
    let (app, generator) = aws::worker_from_vars(&Vars(|name| std::env::var(name).ok()))?;
    let worker = Arc::new(Worker::new(app, Arc::new(generator)));
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
