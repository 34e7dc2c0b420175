//! The dev server's in-process worker and webhook sender: they drain the local queues with
//! SQS's retry semantics.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc::UnboundedReceiver;

use crate::domain::jobs::JobFailure;
use crate::queue::WebhookQueue as _;
use crate::queue::local::{Delivery, LocalQueue, LocalWebhookQueue, WebhookDelivery};
use crate::usecases::generation::Worker;
use crate::usecases::webhooks::Sender;

/// Runs until the queue closes. A failed delivery comes back after `retry_delay` (or the sooner
/// delay the step asked for), up to the configured receive count; then the job is ended as the
/// janitor ends a dead-lettered one. The janitor's deadline sweep runs every `sweep_every`.
pub fn spawn(
    worker: Arc<Worker>,
    queue: LocalQueue,
    mut rx: UnboundedReceiver<Delivery>,
    retry_delay: Duration,
    sweep_every: Duration,
) {
    let sweeper = worker.clone();
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(sweep_every);
        loop {
            ticks.tick().await;
            crate::usecases::janitor::run(&sweeper, None).await;
        }
    });
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
                        let failure = JobFailure::delivery_exhausted();
                        if let Err(e) = worker.abandon(&delivery.message.job_id, failure).await {
                            tracing::warn!(job_id = %delivery.message.job_id, error = %e, "could not end a dead-lettered job; the sweep will");
                        }
                        return;
                    }
                    tracing::info!(job_id = %delivery.message.job_id, error = %e, "delivery failed; will be redelivered");
                    tokio::time::sleep(e.upstream_hint().unwrap_or(retry_delay)).await;
                    if queue.redeliver(delivery).is_err() {
                        tracing::warn!("queue closed; dropping a redelivery");
                    }
                }
            });
        }
    });
}

/// Receives of one webhook message before it is dead-lettered: the webhook queue's
/// maxReceiveCount in Terraform.
pub const WEBHOOK_RECEIVES: u32 = 5;

/// The dev server's webhook sender: each delivery after its delay, on its own task. A delivery
/// that fails for the store or the queue comes back after `retry_delay`, as SQS would redeliver
/// it, up to [`WEBHOOK_RECEIVES`] times.
pub fn spawn_webhooks(
    sender: Arc<Sender>,
    queue: LocalWebhookQueue,
    mut rx: UnboundedReceiver<WebhookDelivery>,
    retry_delay: Duration,
) {
    tokio::spawn(async move {
        while let Some(delivery) = rx.recv().await {
            let sender = sender.clone();
            let queue = queue.clone();
            tokio::spawn(async move {
                tokio::time::sleep(delivery.delay).await;
                for receive in 1..=WEBHOOK_RECEIVES {
                    match sender.deliver(&delivery.message).await {
                        Ok(_) => return,
                        Err(e) => {
                            tracing::warn!(job_id = %delivery.message.job_id, error = %e, receive, "webhook delivery failed");
                            tokio::time::sleep(retry_delay).await;
                        }
                    }
                }
                tracing::error!(job_id = %delivery.message.job_id, "webhook delivery given up (dead-lettered)");
                let reason = "the store or the queue kept failing";
                let _ = queue.dead_letter(&delivery.message, reason).await;
            });
        }
    });
}
