//! The worker Lambda: consumes the jobs queue with partial batch failures, each message one
//! delivery of its job (DynamoDB, S3, Gemini with its key from Secrets Manager); consumes the
//! webhook queue, each message one attempt to deliver a job's end event
//! (`imagegen::usecases::webhooks`); and, when its schedule invokes it, runs the janitor
//! (`imagegen::usecases::janitor`).

use std::process::ExitCode;
use std::sync::Arc;

use aws_lambda_events::sqs::SqsBatchResponse;
use imagegen::aws;
use imagegen::config::Vars;
use imagegen::usecases::generation::Worker;
use imagegen::usecases::janitor;
use imagegen::usecases::webhooks::Sender;
use imagegen::worker::{Invocation, JobMessage, WebhookMessage, handle_batch};
use lambda_runtime::{LambdaEvent, service_fn};

async fn run() -> Result<(), lambda_runtime::Error> {
    let parts = aws::worker_from_vars(&Vars(|name| std::env::var(name).ok()))?;
    let image_attempts = parts.generator.config().max_attempts;
    let worker = Arc::new(
        Worker::new(parts.app, Arc::new(parts.generator), image_attempts).with_price(parts.price),
    );
    let sender = Arc::new(Sender::new(
        worker.app.clone(),
        Arc::new(parts.webhook_client),
    ));
    let control = Arc::new(parts.control);
    let webhook_control = Arc::new(parts.webhook_control);
    let webhook_queue = Arc::new(parts.webhook_queue_name);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<serde_json::Value>| {
        let (worker, sender) = (worker.clone(), sender.clone());
        let (control, webhook_control) = (control.clone(), webhook_control.clone());
        let webhook_queue = webhook_queue.clone();
        async move {
            let response = match Invocation::parse(event.payload, &webhook_queue)? {
                Invocation::Jobs(batch) => {
                    let response: SqsBatchResponse =
                        handle_batch(batch, control.as_ref(), |message: JobMessage, receives| {
                            let worker = worker.clone();
                            async move { worker.process(&message, receives).await }
                        })
                        .await;
                    serde_json::to_value(response)?
                }
                Invocation::Webhooks(batch) => {
                    let response: SqsBatchResponse = handle_batch(
                        batch,
                        webhook_control.as_ref(),
                        |message: WebhookMessage, _receives| {
                            let sender = sender.clone();
                            async move { sender.deliver(&message).await }
                        },
                    )
                    .await;
                    serde_json::to_value(response)?
                }
                Invocation::Janitor => {
                    serde_json::to_value(janitor::run(&worker, Some(control.as_ref())).await)?
                }
            };
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
