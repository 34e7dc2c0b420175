//! `POST /v1/jobs/{id}/cancel` and `Cancel-After`: a queued job ends at once with everything
//! refunded; a running one stops, keeps (and is charged for) what it delivered; a job past its
//! `Cancel-After` ends the same way, by the worker or the janitor.

use imagegen::gemini::GenerateError;
use imagegen::usecases::generation::StepOutcome;
use imagegen::usecases::janitor;
use serde_json::json;

use crate::common::*;

async fn cancel(h: &Harness, key: &Key, job_id: &str) -> Resp {
    h.call(
        "POST",
        &format!("/v1/jobs/{job_id}/cancel"),
        Some(&key.key),
        None,
    )
    .await
}

fn states(job: &serde_json::Value) -> Vec<String> {
    job["outcomes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["state"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_queued_job_is_canceled_at_once_and_refunded_whole() {
    let generator = TestGenerator::new(Mode::Offline);
    let h = Harness::builder().generator(generator.clone()).build();
    let key = h.create_key("acme", ALL_SCOPES).await;
    let res = h
        .post_image(&key, json!({"prompt": "a fox", "count": 2}))
        .await;
    let job_id = res.json["job_id"].as_str().unwrap().to_owned();
    assert_eq!(h.used(&key, "day").await, 2);

    let canceled = cancel(&h, &key, &job_id).await;
    canceled.assert_status(200);
    assert_eq!(canceled.json["status"], "canceled");
    assert_eq!(canceled.json["charged_images"], 0);
    assert_eq!(canceled.json["error"]["code"], "canceled");
    assert_eq!(states(&canceled.json), ["canceled", "canceled"]);
    assert_eq!(h.used(&key, "day").await, 0, "everything refunded");

    // Its message still arrives: the worker finds the job ended and calls no model.
    let outcomes = h.run_worker().await;
    assert!(matches!(outcomes[..], [(_, Ok(StepOutcome::Skipped))]));
    assert_eq!(generator.calls(), 0);
    // Canceling again changes nothing, and refunds nothing twice.
    let again = cancel(&h, &key, &job_id).await;
    again.assert_status(200);
    assert_eq!(again.json["status"], "canceled");
    assert_eq!(h.used(&key, "day").await, 0);

    // Another tenant's job is as absent as a missing one.
    let other = h.create_key("globex", ALL_SCOPES).await;
    cancel(&h, &other, &job_id)
        .await
        .assert_error(404, "not_found");
    cancel(&h, &key, "job_nope")
        .await
        .assert_error(404, "not_found")
        .assert_detail("id", "malformed");
    // Reading is not enough to cancel.
    let reader = h.create_key("acme", &["jobs:read"]).await;
    cancel(&h, &reader, &job_id)
        .await
        .assert_error(403, "forbidden");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_job_stops_and_keeps_what_it_delivered() {
    let generator = TestGenerator::gated(Mode::Offline);
    let h = Harness::builder().generator(generator.clone()).build();
    let key = h.create_key("acme", ALL_SCOPES).await;
    let res = h
        .post_image(&key, json!({"prompt": "a fox", "count": 2}))
        .await;
    let job_id = res.json["job_id"].as_str().unwrap().to_owned();
    let delivery = h.deliveries().pop().unwrap();
    let worker = h.worker.clone();
    let running = tokio::spawn(async move { worker.process(&delivery.message, 1).await });
    // Both images reach the model; one comes back, the other hangs.
    generator.gate().entered.notified().await;
    generator.gate().release.add_permits(1);
    while generator.calls() < 2 {
        tokio::task::yield_now().await;
    }

    let asked = cancel(&h, &key, &job_id).await;
    asked.assert_status(202);
    assert_eq!(asked.json["status"], "running");
    assert_eq!(asked.json["cancel_requested"], true);

    // Within the worker's next look at the job, the hanging image is abandoned.
    assert_eq!(running.await.unwrap().unwrap(), StepOutcome::Canceled);
    let job = h.get_job(&key, &job_id).await;
    assert_eq!(job.json["status"], "canceled");
    assert_eq!(job.json["charged_images"], 1);
    assert_eq!(job.json["images"].as_array().unwrap().len(), 1);
    let mut ended = states(&job.json);
    ended.sort();
    assert_eq!(ended, ["canceled", "delivered"]);
    assert!(job.json.get("cancel_requested").is_none(), "{}", job.json);
    assert_eq!(
        h.used(&key, "day").await,
        1,
        "the undelivered image is refunded"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_after_the_workers_last_look_is_not_lost() {
    // The model answers before the worker looks again: the job finished anyway and stays so.
    let generator = TestGenerator::gated(Mode::Offline);
    let h = Harness::builder().generator(generator.clone()).build();
    let key = h.create_key("acme", ALL_SCOPES).await;
    let job_id = h.submit(&key, "a fox").await;
    let delivery = h.deliveries().pop().unwrap();
    let worker = h.worker.clone();
    let running = tokio::spawn(async move { worker.process(&delivery.message, 1).await });
    generator.gate().entered.notified().await;
    cancel(&h, &key, &job_id).await.assert_status(202);
    generator.gate().release.add_permits(1);
    assert_eq!(running.await.unwrap().unwrap(), StepOutcome::Succeeded);
    let job = h.get_job(&key, &job_id).await;
    assert_eq!(job.json["status"], "succeeded");
    assert_eq!(job.json["charged_images"], 1);

    // The image fails retryably instead: the job would go back to the queue, and ends canceled.
    let generator = TestGenerator::gated(Mode::FailTimes(1, || GenerateError::Unavailable {
        attempts: 1,
        message: "overloaded".into(),
    }));
    let h = Harness::builder().generator(generator.clone()).build();
    let key = h.create_key("acme", ALL_SCOPES).await;
    let job_id = h.submit(&key, "a fox").await;
    let delivery = h.deliveries().pop().unwrap();
    let worker = h.worker.clone();
    let running = tokio::spawn(async move { worker.process(&delivery.message, 1).await });
    generator.gate().entered.notified().await;
    cancel(&h, &key, &job_id).await.assert_status(202);
    generator.gate().release.add_permits(1);
    assert_eq!(running.await.unwrap().unwrap(), StepOutcome::Canceled);
    let job = h.get_job(&key, &job_id).await;
    assert_eq!(job.json["status"], "canceled");
    assert_eq!(states(&job.json), ["canceled"]);
    assert_eq!(h.used(&key, "day").await, 0);
}

#[tokio::test]
async fn cancel_after_ends_a_job_that_has_not_finished_in_time() {
    let generator = TestGenerator::new(Mode::Offline);
    let h = Harness::builder().generator(generator.clone()).build();
    let key = h.create_key("acme", ALL_SCOPES).await;
    let res = h
        .req("POST", "/v1/images")
        .key(&key.key)
        .header("cancel-after", "30")
        .json(&json!({"prompt": "a fox", "count": 2}))
        .send()
        .await;
    res.assert_status(202);
    let job_id = res.json["job_id"].as_str().unwrap().to_owned();
    // The clock is at 10:00:00.
    assert_eq!(
        h.get_job(&key, &job_id).await.json["cancel_at"],
        "2026-11-26T10:00:30Z"
    );

    // Before then, nothing happens; after, the worker ends it without calling the model.
    h.advance(time::Duration::seconds(31));
    let outcomes = h.run_worker().await;
    assert!(matches!(outcomes[..], [(_, Ok(StepOutcome::Canceled))]));
    assert_eq!(generator.calls(), 0);
    let job = h.get_job(&key, &job_id).await;
    assert_eq!(job.json["status"], "canceled");
    assert_eq!(job.json["error"]["code"], "cancel_after_elapsed");
    assert_eq!(states(&job.json), ["canceled", "canceled"]);
    assert_eq!(h.used(&key, "day").await, 0);

    // A job whose message never comes: the janitor's deadline sweep ends it the same way.
    let res = h
        .req("POST", "/v1/images")
        .key(&key.key)
        .header("cancel-after", "5")
        .json(&json!({"prompt": "a hare"}))
        .send()
        .await;
    let job_id = res.json["job_id"].as_str().unwrap().to_owned();
    h.deliveries();
    h.advance(time::Duration::seconds(6));
    let report = janitor::run(&h.worker, None).await;
    assert_eq!(report.overdue, 1);
    let job = h.get_job(&key, &job_id).await;
    assert_eq!(job.json["status"], "canceled");
    assert_eq!(job.json["error"]["code"], "cancel_after_elapsed");
}

#[tokio::test]
async fn cancel_after_takes_whole_seconds_within_a_day() {
    let h = Harness::new();
    let key = h.create_key("acme", ALL_SCOPES).await;
    for bad in ["0", "007", "86401", "1.5", "-3", "10s", "", "999999"] {
        let res = h
            .req("POST", "/v1/images")
            .key(&key.key)
            .header("cancel-after", bad)
            .json(&json!({"prompt": "a fox"}))
            .send()
            .await;
        res.assert_error(400, "invalid_request")
            .assert_detail("cancel-after", "invalid");
    }
    h.req("POST", "/v1/images")
        .key(&key.key)
        .header("cancel-after", "86400")
        .json(&json!({"prompt": "a fox"}))
        .send()
        .await
        .assert_status(202);
    assert_eq!(h.deliveries().len(), 1, "refused requests queue nothing");
}
