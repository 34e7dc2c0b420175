//! The worker Lambda: consumes the jobs queue with partial batch failures.

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::{LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    imagegen::telemetry::init_lambda();
    lambda_runtime::run(service_fn(|event: LambdaEvent<SqsEvent>| async move {
        let response: SqsBatchResponse =
            imagegen::worker::handle_batch(event.payload, |job| async move {
                tracing::info!(job_id = %job.job_id, "job received");
                Ok::<(), std::convert::Infallible>(())
            })
            .await;
        Ok::<_, lambda_runtime::Error>(response)
    }))
    .await
}
