//! Quotas: exact under concurrency, refunded when nothing was charged, kept when it was.

use imagegen::gemini::GenerateError;
use imagegen::usecases::generation::StepOutcome;
use serde_json::json;

use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_concurrent_requests_against_a_quota_of_25_admit_exactly_25() {
    let h = Harness::new();
    let key = h
        .create_key_with(json!({"tenant": "acme", "scopes": ALL_SCOPES, "daily_quota": 25}))
        .await;
    let tasks: Vec<_> = (0..200)
        .map(|n| {
            let req = h
                .req("POST", "/v1/images")
                .key(&key.key)
                .json(&json!({"prompt": format!("request {n}")}));
            tokio::spawn(req.send())
        })
        .collect();
    let (mut admitted, mut refused) = (0, 0);
    for task in tasks {
        let res = task.await.unwrap();
        match res.status.as_u16() {
            202 => admitted += 1,
            429 => {
                res.assert_error(429, "quota_exceeded")
                    .assert_detail("quota", "daily");
                res.retry_after();
                refused += 1;
            }
            other => panic!("unexpected {other}: {}", res.json),
        }
    }
    assert_eq!((admitted, refused), (25, 175));
    assert_eq!(h.used(&key, "day").await, 25);
    assert_eq!(h.deliveries().len(), 25);
    let (jobs, _) = h
        .memory
        .list_jobs("acme", &Default::default(), 1000, None)
        .await
        .unwrap();
    assert_eq!(jobs.len(), 25);
}

#[tokio::test]
async fn a_failure_before_gemini_charged_is_refunded() {
    // Gemini kept answering 429 and this was the only attempt: nothing was billed.
    let generator = TestGenerator::new(Mode::Fail(|| GenerateError::RateLimited {
        attempts: 3,
        retry_after: None,
    }));
    let h = Harness::builder()
        .generator(generator.clone())
        .config(|c| c.max_receive_count = 1)
        .build();
    let key = h.create_key("acme", ALL_SCOPES).await;
    let res = h
        .post_image(&key, json!({"prompt": "a fox", "count": 3}))
        .await;
    res.assert_status(202);
    let job_id = res.json["job_id"].as_str().unwrap();
    assert_eq!(h.used(&key, "day").await, 3, "reserved at admission");

    let outcomes = h.run_worker().await;
    assert!(
        matches!(outcomes[..], [(_, Ok(StepOutcome::Failed))]),
        "{outcomes:?}"
    );
    // One call per image; each image failed on its only delivery.
    assert_eq!(generator.calls(), 3);
    let job = h.get_job(&key, job_id).await;
    assert_eq!(job.json["status"], "failed");
    assert_eq!(job.json["error"]["code"], "upstream_rate_limited");
    assert_eq!(job.json["charged_images"], 0);
    for outcome in job.json["outcomes"].as_array().unwrap() {
        assert_eq!(outcome["state"], "failed");
        assert_eq!(outcome["code"], "upstream_rate_limited");
    }
    assert_eq!(h.used(&key, "day").await, 0);
    assert_eq!(h.used(&key, "month").await, 0);
    assert_eq!(h.stored_job(job_id).await.refunded_images, 3);
}

#[tokio::test]
async fn a_refusal_is_not_charged_but_counted() {
    let generator = TestGenerator::new(Mode::Fail(|| GenerateError::ContentBlocked {
        reason: "SAFETY".into(),
    }));
    let h = Harness::builder().generator(generator.clone()).build();
    let key = h.create_key("acme", ALL_SCOPES).await;
    let res = h
        .post_image(&key, json!({"prompt": "blocked", "count": 2}))
        .await;
    let job_id = res.json["job_id"].as_str().unwrap();
    let outcomes = h.run_worker().await;
    // Not retryable: one call per image, refused for good.
    assert!(
        matches!(outcomes[..], [(_, Ok(StepOutcome::Failed))]),
        "{outcomes:?}"
    );
    assert_eq!(generator.calls(), 2);
    let job = h.get_job(&key, job_id).await;
    assert_eq!(job.json["status"], "failed");
    assert_eq!(job.json["error"]["code"], "content_blocked");
    assert_eq!(job.json["charged_images"], 0);
    let states: Vec<_> = job.json["outcomes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| format!("{}/{}", o["state"], o["code"]))
        .collect();
    assert_eq!(states, [r#""refused"/"content_blocked""#; 2]);
    // The client got nothing, so pays nothing; the refusals are counted.
    assert_eq!(h.used(&key, "day").await, 0);
    assert_eq!(h.used(&key, "refused").await, 2);
}

#[tokio::test]
async fn fewer_images_than_asked_refunds_the_difference() {
    let generator = TestGenerator::new(Mode::AtMost(1));
    let h = Harness::builder().generator(generator).build();
    let key = h.create_key("acme", ALL_SCOPES).await;
    let res = h
        .post_image(&key, json!({"prompt": "three foxes", "count": 3}))
        .await;
    let job_id = res.json["job_id"].as_str().unwrap();
    assert_eq!(h.used(&key, "day").await, 3);
    h.run_worker().await;
    let job = h.get_job(&key, job_id).await;
    assert_eq!(job.json["status"], "succeeded");
    assert_eq!(job.json["images"].as_array().unwrap().len(), 1);
    assert_eq!(job.json["charged_images"], 1);
    let states: Vec<_> = job.json["outcomes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["state"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(states, ["delivered", "refused", "refused"]);
    assert_eq!(job.json["outcomes"][0]["image"], 0);
    assert_eq!(h.used(&key, "day").await, 1);
    assert_eq!(h.used(&key, "month").await, 1);
    assert_eq!(h.used(&key, "refused").await, 2);
}

#[tokio::test]
async fn the_global_daily_budget_applies_across_tenants() {
    let h = Harness::builder()
        .config(|c| c.limits.global_daily_images = 3)
        .build();
    let a = h.create_key("tenant-a", ALL_SCOPES).await;
    let b = h.create_key("tenant-b", ALL_SCOPES).await;
    h.post_image(&a, json!({"prompt": "a", "count": 2}))
        .await
        .assert_status(202);
    h.post_image(&b, json!({"prompt": "b", "count": 2}))
        .await
        .assert_error(429, "quota_exceeded")
        .assert_detail("quota", "global_daily");
    h.post_image(&b, json!({"prompt": "b", "count": 1}))
        .await
        .assert_status(202);
    let res = h.post_image(&a, json!({"prompt": "a"})).await;
    res.assert_error(429, "quota_exceeded")
        .assert_detail("quota", "global_daily");
    assert_eq!(res.retry_after(), 14 * 3600);
    // Tenants' own counters hold only what was admitted.
    assert_eq!(h.used(&a, "day").await, 2);
    assert_eq!(h.used(&b, "day").await, 1);

    // The remaining budget is a metric.
    let remaining: Vec<f64> = h
        .emf()
        .iter()
        .filter(|r| r["Scope"] == "global_daily")
        .filter_map(|r| r["QuotaRemaining"].as_f64())
        .collect();
    assert_eq!(remaining, [1.0, 0.0]);
    let exceeded = h
        .emf()
        .iter()
        .filter(|r| r["QuotaExceeded"].as_f64() == Some(1.0))
        .count();
    assert_eq!(exceeded, 2);
}

#[tokio::test]
async fn a_global_refund_frees_budget_for_another_tenant() {
    let generator = TestGenerator::new(Mode::Fail(|| GenerateError::InvalidRequest {
        message: "bad".into(),
    }));
    let h = Harness::builder()
        .generator(generator)
        .config(|c| c.limits.global_daily_images = 2)
        .build();
    let a = h.create_key("tenant-a", ALL_SCOPES).await;
    let b = h.create_key("tenant-b", ALL_SCOPES).await;
    h.post_image(&a, json!({"prompt": "a", "count": 2}))
        .await
        .assert_status(202);
    h.post_image(&b, json!({"prompt": "b"}))
        .await
        .assert_error(429, "quota_exceeded");
    h.run_worker().await; // fails without a charge: refunded everywhere
    h.post_image(&b, json!({"prompt": "b", "count": 2}))
        .await
        .assert_status(202);
}

#[tokio::test]
async fn the_monthly_quota_outlasts_the_day() {
    let h = Harness::new();
    let key = h
        .create_key_with(
            json!({"tenant": "acme", "scopes": ALL_SCOPES, "daily_quota": 2, "monthly_quota": 3}),
        )
        .await;
    h.post_image(&key, json!({"prompt": "a", "count": 2}))
        .await
        .assert_status(202);
    h.advance(time::Duration::days(1));
    h.post_image(&key, json!({"prompt": "b", "count": 2}))
        .await
        .assert_error(429, "quota_exceeded")
        .assert_detail("quota", "monthly");
    h.post_image(&key, json!({"prompt": "c"}))
        .await
        .assert_status(202);
    assert_eq!(h.used(&key, "day").await, 1);
    assert_eq!(h.used(&key, "month").await, 3);
    // December is a new month.
    h.advance(time::Duration::days(5));
    h.post_image(&key, json!({"prompt": "d", "count": 2}))
        .await
        .assert_status(202);
}

#[tokio::test]
async fn past_the_daily_refusal_limit_new_jobs_get_429_with_their_own_code() {
    let generator = TestGenerator::new(Mode::Fail(|| GenerateError::ContentBlocked {
        reason: "IMAGE_SAFETY".into(),
    }));
    let h = Harness::builder().generator(generator.clone()).build();
    let key = h
        .create_key_with(json!({
            "tenant": "acme", "scopes": ALL_SCOPES, "daily_quota": 10, "daily_refusal_limit": 2
        }))
        .await;
    let res = h
        .post_image(&key, json!({"prompt": "refused twice", "count": 2}))
        .await;
    res.assert_status(202);
    h.run_worker().await;
    assert_eq!(h.used(&key, "refused").await, 2);
    assert_eq!(h.used(&key, "day").await, 0, "refusals are not charged");

    let res = h.post_image(&key, json!({"prompt": "again"})).await;
    res.assert_status(429);
    assert_eq!(res.json["error"]["code"], "refusal_limit_exceeded");
    assert_eq!(res.json["error"]["details"][0]["field"], "quota");
    assert_eq!(res.json["error"]["details"][0]["issue"], "daily_refusals");
    // Until the end of the UTC day.
    let retry = res.retry_after();
    assert!((1..=24 * 3600).contains(&retry), "{retry}");
    assert_eq!(generator.calls(), 2, "nothing reached the model");
    assert_eq!(h.used(&key, "day").await, 0, "nothing was reserved");

    // The usage document shows the limit the key set; another key of its own defaults to its
    // daily quota.
    let usage = h.call("GET", "/v1/usage", Some(&key.key), None).await.json;
    assert_eq!(usage["limits"]["daily_refusal_limit"], 2);
    let other = h
        .create_key_with(json!({"tenant": "other", "scopes": ALL_SCOPES, "daily_quota": 7}))
        .await;
    let usage = h
        .call("GET", "/v1/usage", Some(&other.key), None)
        .await
        .json;
    assert_eq!(usage["limits"]["daily_refusal_limit"], 7);
    h.post_image(&other, json!({"prompt": "fine"}))
        .await
        .assert_status(202);
}

#[tokio::test]
async fn images_in_flight_count_against_the_refusal_limit_until_they_are_delivered() {
    let h = Harness::builder().build();
    let key = h
        .create_key_with(json!({
            "tenant": "acme", "scopes": ALL_SCOPES, "daily_quota": 10, "daily_refusal_limit": 2
        }))
        .await;
    // Two images not yet run: either may still be refused, so a third would pass the limit.
    h.post_image(&key, json!({"prompt": "two foxes", "count": 2}))
        .await
        .assert_status(202);
    assert_eq!(h.used(&key, "refused").await, 2);
    h.post_image(&key, json!({"prompt": "one more"}))
        .await
        .assert_error(429, "refusal_limit_exceeded");
    // Delivered, they no longer count as possible refusals.
    h.run_worker().await;
    assert_eq!(h.used(&key, "refused").await, 0);
    assert_eq!(h.used(&key, "day").await, 2);
    h.post_image(&key, json!({"prompt": "one more"}))
        .await
        .assert_status(202);
}
