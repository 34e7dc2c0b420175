//! The worker Lambda: consumes the jobs queue with partial batch failures.
//!
//! The job step needs the DynamoDB/S3/Secrets Manager adapters, wired here by the AWS-adapters
//! work; until then every well-formed message is reported failed so SQS keeps it (and
//! eventually dead-letters it) rather than dropping a job.

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::{LambdaEvent, service_fn};

#[derive(Debug, thiserror::Error)]
#[error("the worker has no job store configured")]
struct NotConfigured;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    imagegen::telemetry::init_lambda();
    lambda_runtime::run(service_fn(|event: LambdaEvent<SqsEvent>| async move {
        let response: SqsBatchResponse =
            imagegen::worker::handle_batch(event.payload, |_job, _receives| async {
                Err::<(), _>(NotConfigured)
            })
            .await;
        Ok::<_, lambda_runtime::Error>(response)
    }))
    .await
}
