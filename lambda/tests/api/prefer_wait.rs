//! `Prefer: wait=N`: with a background worker the finished job comes back as 200; without
//! the preference (or with wait=0) the answer is 202 at once.

use std::time::{Duration, Instant};

use imagegen::gemini::GenerateError;
use serde_json::json;

use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_returns_the_finished_job() {
    let h = Harness::builder().background_worker().build();
    let key = h.create_key("acme", ALL_SCOPES).await;

    let started = Instant::now();
    let res = h
        .req("POST", "/v1/images")
        .key(&key.key)
        .header("prefer", "respond-async, wait=5")
        .json(&json!({"prompt": "a lighthouse", "count": 1}))
        .send()
        .await;
    res.assert_status(200);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "answered when done, not at the deadline"
    );
    assert_eq!(res.header("preference-applied"), Some("wait=5"));
    assert_eq!(res.json["status"], "succeeded");
    let job_id = res.json["job_id"].as_str().unwrap();
    assert_eq!(
        res.header("location"),
        Some(format!("/v1/jobs/{job_id}").as_str())
    );
    let image = &res.json["images"][0];
    assert_eq!(image["mime_type"], "image/png");
    let dl = h.fetch(image["url"].as_str().unwrap()).await;
    dl.assert_status(200);
    assert!(dl.bytes.starts_with(b"\x89PNG"));
    assert_eq!(res.rate_policies(), ["burst", "minute", "daily", "monthly"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_preference_or_wait_zero_answers_202() {
    let h = Harness::builder().background_worker().build();
    let key = h.create_key("acme", ALL_SCOPES).await;
    for prefer in [None, Some("wait=0"), Some("respond-async")] {
        let mut req = h.req("POST", "/v1/images").key(&key.key);
        if let Some(p) = prefer {
            req = req.header("prefer", p);
        }
        let res = req.json(&json!({"prompt": "a fox"})).send().await;
        res.assert_status(202);
        assert_eq!(res.json["status"], "queued", "{prefer:?}");
        assert_eq!(
            res.header("preference-applied"),
            prefer.filter(|p| p.starts_with("wait")),
            "{prefer:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_job_is_also_a_finished_job() {
    let generator = TestGenerator::new(Mode::Fail(|| GenerateError::ContentBlocked {
        reason: "SAFETY".into(),
    }));
    let h = Harness::builder()
        .generator(generator)
        .background_worker()
        .build();
    let key = h.create_key("acme", ALL_SCOPES).await;
    let res = h
        .req("POST", "/v1/images")
        .key(&key.key)
        .header("prefer", "wait=5")
        .json(&json!({"prompt": "something blocked"}))
        .send()
        .await;
    res.assert_status(200);
    assert_eq!(res.json["status"], "failed");
    assert_eq!(res.json["error"]["code"], "content_blocked");
    assert!(res.json["error"]["message"].is_string());
    assert_eq!(res.json["images"], json!([]));
}

#[tokio::test]
async fn a_job_that_does_not_finish_in_time_is_202() {
    // No worker at all: the wait runs out and the client gets the queued job.
    let h = Harness::new();
    let key = h.create_key("acme", ALL_SCOPES).await;
    let started = Instant::now();
    let res = h
        .req("POST", "/v1/images")
        .key(&key.key)
        .header("prefer", "wait=1")
        .json(&json!({"prompt": "a fox"}))
        .send()
        .await;
    res.assert_status(202);
    assert_eq!(res.json["status"], "queued");
    assert_eq!(res.header("preference-applied"), Some("wait=1"));
    assert!(started.elapsed() <= Duration::from_millis(1500));
}
