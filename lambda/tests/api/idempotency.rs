//! `Idempotency-Key`: same key + same body -> the same job, charged once; other body -> 409.

use serde_json::json;

use crate::common::*;

#[tokio::test]
async fn same_key_same_body_replays_the_job_and_charges_once() {
    let h = Harness::new();
    let key = h.create_key("acme", ALL_SCOPES).await;
    let body = json!({"prompt": "a red fox", "count": 2});
    let send = |body: serde_json::Value, idem: &'static str| {
        h.req("POST", "/v1/images")
            .key(&key.key)
            .header("idempotency-key", idem)
            .json(&body)
            .send()
    };

    let first = send(body.clone(), "order-42").await;
    first.assert_status(202);
    assert!(first.header("idempotent-replayed").is_none());
    let job_id = first.json["job_id"].as_str().unwrap();

    let again = send(body.clone(), "order-42").await;
    again.assert_status(202);
    assert_eq!(again.json["job_id"], job_id);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(again.header("location"), first.header("location"));
    assert_eq!(h.used(&key, "day").await, 2, "charged once for count 2");
    assert_eq!(h.deliveries().len(), 1, "queued once");

    // After the job ran, a replay shows its current state and still charges nothing.
    h.queue
        .redeliver(imagegen::queue::local::Delivery {
            message: imagegen::queue::JobMessage {
                job_id: imagegen::domain::ids::JobId::parse(job_id).unwrap(),
            },
            receive_count: 0,
        })
        .unwrap();
    h.run_worker().await;
    let later = send(body.clone(), "order-42").await;
    later.assert_status(202);
    assert_eq!(later.json["job_id"], job_id);
    assert_eq!(later.json["status"], "succeeded");
    assert_eq!(h.used(&key, "day").await, 2);

    // Same key, another body: 409, nothing charged or queued.
    let other = send(json!({"prompt": "a blue fox", "count": 2}), "order-42").await;
    other
        .assert_error(409, "conflict")
        .assert_detail("idempotency-key", "reused_with_different_body");
    assert_eq!(h.used(&key, "day").await, 2);
    assert!(h.deliveries().is_empty());

    // Another key is another job.
    let fresh = send(body.clone(), "order-43").await;
    fresh.assert_status(202);
    assert_ne!(fresh.json["job_id"], job_id);
    assert_eq!(h.used(&key, "day").await, 4);

    // Keys are per tenant: another tenant's identical key and body is its own job.
    let other_tenant = h.create_key("globex", ALL_SCOPES).await;
    let theirs = h
        .req("POST", "/v1/images")
        .key(&other_tenant.key)
        .header("idempotency-key", "order-42")
        .json(&body)
        .send()
        .await;
    theirs.assert_status(202);
    assert_ne!(theirs.json["job_id"], job_id);
    assert!(theirs.header("idempotent-replayed").is_none());
}

#[tokio::test]
async fn a_refused_request_does_not_burn_its_idempotency_key() {
    let h = Harness::new();
    let key = h
        .create_key_with(json!({"tenant": "acme", "scopes": ALL_SCOPES, "daily_quota": 1}))
        .await;
    h.submit(&key, "uses the quota").await;
    let send = || {
        h.req("POST", "/v1/images")
            .key(&key.key)
            .header("idempotency-key", "retry-me")
            .json(&json!({"prompt": "a fox"}))
            .send()
    };
    send().await.assert_error(429, "quota_exceeded");
    // Tomorrow the same request with the same key is admitted, not a 409.
    h.advance(time::Duration::days(1));
    let res = send().await;
    res.assert_status(202);
    assert!(res.header("idempotent-replayed").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_retries_with_one_key_make_one_job() {
    let h = Harness::new();
    let key = h.create_key("acme", ALL_SCOPES).await;
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let req = h
                .req("POST", "/v1/images")
                .key(&key.key)
                .header("idempotency-key", "burst-1")
                .json(&json!({"prompt": "a fox", "count": 3}));
            tokio::spawn(req.send())
        })
        .collect();
    let mut job_ids = std::collections::BTreeSet::new();
    for task in tasks {
        let res = task.await.unwrap();
        match res.status.as_u16() {
            202 => {
                job_ids.insert(res.json["job_id"].as_str().unwrap().to_owned());
            }
            // A twin still being admitted: the client retries.
            409 => {
                res.assert_detail("idempotency-key", "in_progress");
            }
            other => panic!("unexpected {other}: {}", res.json),
        }
    }
    assert_eq!(job_ids.len(), 1, "{job_ids:?}");
    assert_eq!(h.used(&key, "day").await, 3, "charged once");
    assert_eq!(h.deliveries().len(), 1, "queued once");
}
