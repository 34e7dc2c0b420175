//! The dev server's in-process worker: drains the local queue with SQS's retry semantics.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc::UnboundedReceiver;

use super::Worker;
use crate::queue::LocalQueue;
use crate::queue::local::Delivery;

/// Runs until the queue closes. A failed delivery comes back after `retry_delay`, up to the
/// configured receive count (then it is dropped, as SQS would move it to the DLQ).
pub fn spawn(
    worker: Arc<Worker>,
    queue: LocalQueue,
    mut rx: UnboundedReceiver<Delivery>,
    retry_delay: Duration,
) {
    tokio::spawn(async move {
        while let Some(delivery) = rx.recv().await {
            let worker = worker.clone();
            let queue = queue.clone();
            tokio::spawn(async move {
                let result = worker
                    .process(&delivery.message, delivery.receive_count)
                    .await;
                if let Err(e) = result {
                    let max = worker.app.config.max_receive_count;
                    if delivery.receive_count >= max {
                        tracing::error!(job_id = %delivery.message.job_id, error = %e, "message exhausted its receives (dead-lettered)");
                        return;
                    }
                    tracing::info!(job_id = %delivery.message.job_id, error = %e, "delivery failed; will be redelivered");
                    tokio::time::sleep(retry_delay).await;
                    if queue.redeliver(delivery).is_err() {
                        tracing::warn!("queue closed; dropping a redelivery");
                    }
                }
            });
        }
    });
}
