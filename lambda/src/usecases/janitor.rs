//! The janitor: ends jobs that will never finish by themselves, so none stays queued or
//! running forever and every unspent reservation goes back. Run every few minutes (an
//! EventBridge schedule invokes the worker function with `{"imagegen":"janitor"}`; the dev
//! server runs it in-process), it
//! - reads the dead-letter queue: each job whose message the queue gave up on ends `failed`
//!   with `delivery_exhausted`. The messages stay there (hidden for a day) for people and the
//!   queue's alarm; reading one twice does nothing the second time.
//! - finds open jobs past their deadline (`Config::job_deadline`) and ends them with
//!   `deadline_exceeded`;
//! - in the same index, finds ended jobs whose webhook event is still not queued five minutes
//!   on (the queue refused it, or the worker died first) and queues it.

use std::time::Duration;

use super::generation::{StepOutcome, Worker};
use crate::domain::jobs::JobFailure;
use crate::queue::{DeadLetters, JobMessage};
use crate::telemetry::Unit;

/// Messages and jobs handled per run; the next run takes the rest.
const BATCH: usize = 100;
/// How long a dead letter already reconciled stays out of the next runs' reads.
const DEAD_LETTER_HIDE: Duration = Duration::from_secs(24 * 3600);

/// What one run did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct JanitorReport {
    /// Jobs ended because their message was dead-lettered.
    pub dead_lettered: u32,
    /// Jobs ended because they were past their deadline.
    pub overdue: u32,
    /// Dead letters that are not job messages (left for people).
    pub unreadable: u32,
    /// Jobs that could not be ended this run (a store error); the next run retries them.
    pub errors: u32,
}

pub async fn run(worker: &Worker, dead_letters: Option<&dyn DeadLetters>) -> JanitorReport {
    let mut report = JanitorReport::default();
    if let Some(dead_letters) = dead_letters {
        match dead_letters.receive(BATCH, DEAD_LETTER_HIDE).await {
            Ok(letters) => {
                for letter in letters {
                    let Ok(message) = serde_json::from_str::<JobMessage>(&letter.body) else {
                        tracing::error!(message_id = %letter.message_id, "a dead letter that is not a job message");
                        report.unreadable += 1;
                        continue;
                    };
                    tally(
                        &mut report.dead_lettered,
                        &mut report.errors,
                        worker
                            .abandon(&message.job_id, JobFailure::delivery_exhausted())
                            .await,
                    );
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "the dead-letter queue could not be read");
                report.errors += 1;
            }
        }
    }
    let now = worker.app.clock.now();
    match worker.app.store.overdue_jobs(now, BATCH).await {
        Ok(ids) => {
            for job_id in ids {
                tally(
                    &mut report.overdue,
                    &mut report.errors,
                    worker
                        .abandon(&job_id, JobFailure::deadline_exceeded())
                        .await,
                );
            }
        }
        Err(e) => {
            tracing::error!(error = %e, "open jobs could not be listed");
            report.errors += 1;
        }
    }
    worker.app.metrics.emit(
        &[],
        &[
            (
                "JobsDeadLettered",
                f64::from(report.dead_lettered),
                Unit::Count,
            ),
            ("JobsOverdue", f64::from(report.overdue), Unit::Count),
        ],
    );
    if report == JanitorReport::default() {
        tracing::debug!("janitor found nothing to do");
    } else {
        tracing::info!(
            dead_lettered = report.dead_lettered,
            overdue = report.overdue,
            unreadable = report.unreadable,
            errors = report.errors,
            "janitor finished"
        );
    }
    report
}

fn tally(
    ended: &mut u32,
    errors: &mut u32,
    result: Result<StepOutcome, super::generation::StepError>,
) {
    match result {
        Ok(StepOutcome::Failed | StepOutcome::Succeeded | StepOutcome::Canceled) => *ended += 1,
        Ok(StepOutcome::Skipped) => {}
        // A worker holds it within its lease: its own to finish (or the deadline sweep's).
        Err(super::generation::StepError::Busy) => {}
        Err(e) => {
            tracing::warn!(error = %e, "a job could not be ended; the next run retries it");
            *errors += 1;
        }
    }
}
