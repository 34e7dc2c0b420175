//! The worker: at-least-once delivery must still mean one image set and one charge; a running
//! job is not claimed twice until its lease runs out; retryable failures retry, then fail with
//! a refund on the last attempt.

use std::time::Duration;

use imagegen::domain::ids::JobId;
use imagegen::gemini::GenerateError;
use imagegen::queue::JobMessage;
use imagegen::usecases::generation::{StepError, StepOutcome};
use serde_json::json;

use crate::common::*;

fn message(job_id: &str) -> JobMessage {
    JobMessage {
        job_id: JobId::parse(job_id).unwrap(),
    }
}

fn unavailable() -> GenerateError {
    GenerateError::Unavailable {
        attempts: 3,
        message: "connection refused".into(),
    }
}

#[tokio::test]
async fn a_redelivered_message_after_success_changes_nothing() {
    let generator = TestGenerator::new(Mode::Offline);
    let h = Harness::builder().generator(generator.clone()).build();
    let key = h.create_key("acme", ALL_SCOPES).await;
    let job_id = h
        .post_image(&key, json!({"prompt": "a fox", "count": 2}))
        .await
        .json["job_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let delivery = h.deliveries().pop().unwrap();
    assert_eq!(
        h.worker.process(&delivery.message, 1).await.unwrap(),
        StepOutcome::Succeeded
    );
    let before = h.get_job(&key, &job_id).await.json;
    assert_eq!(h.generated_files(), 2);
    assert_eq!(h.used(&key, "day").await, 2);

    // SQS delivers it again (visibility timeout, a retried batch): nothing happens.
    for receive_count in 2..=4 {
        assert_eq!(
            h.worker
                .process(&delivery.message, receive_count)
                .await
                .unwrap(),
            StepOutcome::Skipped
        );
    }
    // One call per image, none on the redelivery.
    assert_eq!(generator.calls(), 2);
    assert_eq!(h.generated_files(), 2);
    assert_eq!(h.used(&key, "day").await, 2);
    let after = h.get_job(&key, &job_id).await.json;
    assert_eq!(after["updated_at"], before["updated_at"]);
    assert_eq!(after["images"].as_array().unwrap().len(), 2);
    assert_eq!(h.stored_job(&job_id).await.attempts, 1);
}

#[tokio::test]
async fn a_message_for_an_unknown_job_is_dropped() {
    let h = Harness::new();
    let outcome = h
        .worker
        .process(&message("job_0123456789abcdef0123456789abcdef"), 1)
        .await
        .unwrap();
    assert_eq!(outcome, StepOutcome::Skipped);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_concurrent_claim_of_a_running_job_is_busy() {
    let generator = TestGenerator::gated(Mode::Offline);
    let h = Harness::builder().generator(generator.clone()).build();
    let key = h.create_key("acme", ALL_SCOPES).await;
    let job_id = h.submit(&key, "a fox").await;
    let delivery = h.deliveries().pop().unwrap();

    let worker = h.worker.clone();
    let msg = delivery.message.clone();
    let first = tokio::spawn(async move { worker.process(&msg, 1).await });
    generator.gate().entered.notified().await;

    // The job is running; a second delivery must not run it again.
    assert_eq!(h.get_job(&key, &job_id).await.json["status"], "running");
    let second = h.worker.process(&delivery.message, 2).await;
    assert!(matches!(second, Err(StepError::Busy)), "{second:?}");

    generator.gate().release.add_permits(1);
    assert_eq!(first.await.unwrap().unwrap(), StepOutcome::Succeeded);
    assert_eq!(generator.calls(), 1);
    assert_eq!(h.get_job(&key, &job_id).await.json["status"], "succeeded");
    assert_eq!(h.used(&key, "day").await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_job_whose_lease_expired_is_reclaimed_and_the_late_writer_loses() {
    let generator = TestGenerator::gated(Mode::Offline);
    let h = Harness::builder()
        .generator(generator.clone())
        .config(|c| c.worker_lease = Duration::from_secs(60))
        .build();
    let key = h.create_key("acme", ALL_SCOPES).await;
    let job_id = h.submit(&key, "a fox").await;
    let delivery = h.deliveries().pop().unwrap();

    // Worker A claims the job and hangs in the model call.
    let worker = h.worker.clone();
    let msg = delivery.message.clone();
    let stale = tokio::spawn(async move { worker.process(&msg, 1).await });
    generator.gate().entered.notified().await;

    // Within the lease: busy.
    h.advance(time::Duration::seconds(59));
    assert!(matches!(
        h.worker.process(&delivery.message, 2).await,
        Err(StepError::Busy)
    ));

    // Past the lease: worker B reclaims it (attempt 2) and also reaches the model.
    h.advance(time::Duration::seconds(2));
    let worker = h.worker.clone();
    let msg = delivery.message.clone();
    let fresh = tokio::spawn(async move { worker.process(&msg, 3).await });
    generator.gate().entered.notified().await;
    assert_eq!(h.stored_job(&job_id).await.attempts, 2);

    // A wakes up first: its write is conditional on attempt 1 and loses.
    generator.gate().release.add_permits(1);
    assert_eq!(stale.await.unwrap().unwrap(), StepOutcome::Skipped);
    generator.gate().release.add_permits(1);
    assert_eq!(fresh.await.unwrap().unwrap(), StepOutcome::Succeeded);

    let job = h.get_job(&key, &job_id).await;
    assert_eq!(job.json["status"], "succeeded");
    assert_eq!(job.json["images"].as_array().unwrap().len(), 1);
    // A stored its image beside B's, not over it; the job owns B's only (A's expires with the
    // bucket's lifecycle rule).
    assert_eq!(h.generated_files(), 2);
    let owned = h.stored_job(&job_id).await.images;
    assert_eq!(owned.len(), 1);
    assert!(owned[0].key.contains("/a2/"), "{}", owned[0].key);
    assert_eq!(h.used(&key, "day").await, 1, "one charge");
}

#[tokio::test]
async fn a_retryable_failure_is_retried_then_failed_with_a_refund_on_the_last_attempt() {
    let generator = TestGenerator::new(Mode::Fail(unavailable));
    let h = Harness::builder()
        .generator(generator.clone())
        .config(|c| c.max_receive_count = 3)
        .build();
    let key = h.create_key("acme", ALL_SCOPES).await;
    let job_id = h
        .post_image(&key, json!({"prompt": "a fox", "count": 2}))
        .await
        .json["job_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let msg = h.deliveries().pop().unwrap().message;

    for receive_count in 1..=2 {
        let res = h.worker.process(&msg, receive_count).await;
        // Pending images come back soon, not after the whole visibility timeout.
        assert!(
            matches!(&res, Err(StepError::Deferred { reason, hint: None }) if reason == "upstream_unavailable"),
            "{res:?}"
        );
        // Back to queued for the next delivery, the reservation still held.
        let job = h.get_job(&key, &job_id).await;
        assert_eq!(job.json["status"], "queued");
        assert!(job.json.get("error").is_none());
        assert_eq!(h.used(&key, "day").await, 2);
        assert_eq!(h.stored_job(&job_id).await.attempts, receive_count);
    }
    assert_eq!(
        h.worker.process(&msg, 3).await.unwrap(),
        StepOutcome::Failed
    );
    let job = h.get_job(&key, &job_id).await;
    assert_eq!(job.json["status"], "failed");
    assert_eq!(job.json["error"]["code"], "upstream_unavailable");
    // The client reads a message, not the upstream's internals.
    assert!(!job.json.to_string().contains("connection refused"));
    // Three deliveries of two images: the budget of 3 calls per image is spent.
    assert_eq!(generator.calls(), 6);
    assert_eq!(h.used(&key, "day").await, 0);
}

#[tokio::test]
async fn the_queue_loop_retries_until_success_and_charges_once() {
    let generator = TestGenerator::new(Mode::FailTimes(2, unavailable));
    let h = Harness::builder().generator(generator.clone()).build();
    let key = h.create_key("acme", ALL_SCOPES).await;
    let job_id = h.submit(&key, "a fox").await;
    let outcomes = h.run_worker().await;
    let results: Vec<_> = outcomes.iter().map(|(_, r)| r.is_ok()).collect();
    assert_eq!(results, [false, false, true]);
    assert!(matches!(outcomes[2].1, Ok(StepOutcome::Succeeded)));
    assert_eq!(h.get_job(&key, &job_id).await.json["status"], "succeeded");
    assert_eq!(h.used(&key, "day").await, 1);
    assert_eq!(h.stored_job(&job_id).await.attempts, 3);
}

#[tokio::test]
async fn a_non_retryable_uncharged_failure_fails_at_once_with_a_refund() {
    let generator = TestGenerator::new(Mode::Fail(|| GenerateError::InvalidRequest {
        message: "unsupported aspect ratio".into(),
    }));
    let h = Harness::builder().generator(generator.clone()).build();
    let key = h.create_key("acme", ALL_SCOPES).await;
    let job_id = h.submit(&key, "a fox").await;
    let outcomes = h.run_worker().await;
    assert!(matches!(outcomes[..], [(_, Ok(StepOutcome::Failed))]));
    assert_eq!(generator.calls(), 1);
    assert_eq!(
        h.get_job(&key, &job_id).await.json["error"]["code"],
        "invalid_request"
    );
    assert_eq!(h.used(&key, "day").await, 0);
}

#[tokio::test]
async fn a_reference_that_vanished_fails_the_job_without_a_charge() {
    let generator = TestGenerator::new(Mode::Offline);
    let h = Harness::builder().generator(generator.clone()).build();
    let key = h.create_key("acme", ALL_SCOPES).await;
    let job_id = h
        .post_image(
            &key,
            json!({"prompt": "like this", "reference_images": [{"data": b64(&png(32, 32)), "mime_type": "image/png"}]}),
        )
        .await
        .json["job_id"]
        .as_str()
        .unwrap()
        .to_owned();
    // The lifecycle rule expired it before the job ran.
    let stored = h.stored_job(&job_id).await;
    assert_eq!(stored.params.reference_keys.len(), 1);
    use imagegen::blobs::BlobStore as _;
    h.blobs
        .delete(&stored.params.reference_keys[0])
        .await
        .unwrap();
    h.run_worker().await;
    let job = h.get_job(&key, &job_id).await;
    assert_eq!(job.json["status"], "failed");
    assert_eq!(job.json["error"]["code"], "reference_missing");
    assert_eq!(generator.calls(), 0);
    assert_eq!(h.used(&key, "day").await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_in_process_worker_redelivers_failed_messages() {
    let generator = TestGenerator::new(Mode::FailTimes(1, unavailable));
    let h = Harness::builder()
        .generator(generator.clone())
        .background_worker()
        .build();
    let key = h.create_key("acme", ALL_SCOPES).await;
    let res = h
        .req("POST", "/v1/images")
        .key(&key.key)
        .header("prefer", "wait=5")
        .json(&json!({"prompt": "a fox"}))
        .send()
        .await;
    res.assert_status(200);
    assert_eq!(res.json["status"], "succeeded");
    assert_eq!(generator.calls(), 2);
}
