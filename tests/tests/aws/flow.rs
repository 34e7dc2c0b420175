//! The whole flow through the real handlers on the AWS adapters: `POST /v1/images` -> job in
//! DynamoDB + message in SQS -> `worker::handle_batch` on a real `SqsEvent` -> Gemini (a
//! wiremock mock, its key from Secrets Manager) -> images in S3 -> `GET /v1/jobs/{id}` ->
//! download through the presigned URL.

use std::collections::HashMap;
use std::time::Duration;

use axum::http::Method;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use imagegen::config::Vars;
use imagegen::domain::ids::JobId;
use imagegen::domain::jobs::JobStatus;
use imagegen::domain::keys::Scope;
use imagegen_tests::aws::{FAKE_GEMINI_KEY, TestEnv, http_client, receive_count, report};
use serde_json::{Value, json};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const GEMINI_PATH: &str = "/v1beta/models/gemini-2.5-flash-image:generateContent";
const SCOPES: [Scope; 3] = [Scope::ImagesWrite, Scope::JobsRead, Scope::UsageRead];
const WIDTH: u32 = 64;
const HEIGHT: u32 = 48;

/// A real PNG, WIDTH x HEIGHT.
fn png() -> Vec<u8> {
    let image = image::RgbImage::from_fn(WIDTH, HEIGHT, |x, y| {
        image::Rgb([(x * 4) as u8, (y * 5) as u8, 128])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    image.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

/// Gemini answering every call with `image`, but only to the key from Secrets Manager.
async fn gemini_drawing(image: &[u8]) -> MockServer {
    let server = MockServer::start().await;
    let answer = json!({
        "candidates": [{
            "content": {"role": "model", "parts": [
                {"text": "Here is your lighthouse."},
                {"inlineData": {"mimeType": "image/png", "data": STANDARD.encode(image)}}
            ]},
            "finishReason": "STOP",
            "index": 0
        }],
        "usageMetadata": {"promptTokenCount": 10, "candidatesTokenCount": 1290, "totalTokenCount": 1300},
        "modelVersion": "gemini-2.5-flash-image"
    });
    Mock::given(method("POST"))
        .and(path(GEMINI_PATH))
        .and(header("x-goog-api-key", FAKE_GEMINI_KEY))
        .respond_with(ResponseTemplate::new(200).set_body_json(answer))
        .mount(&server)
        .await;
    server
}

/// Gemini failing every call with HTTP 500.
async fn gemini_failing() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(GEMINI_PATH))
        .respond_with(ResponseTemplate::new(500).set_body_json(json!({
            "error": {"code": 500, "message": "Internal error encountered.", "status": "INTERNAL"}
        })))
        .mount(&server)
        .await;
    server
}

/// POST /v1/images for one image; returns the job id.
async fn post_job(env: &TestEnv, key: &str) -> String {
    let reply = env
        .call(
            Method::POST,
            "/v1/images",
            key,
            Some(json!({"prompt": "a lighthouse at dusk", "count": 1})),
        )
        .await
        .unwrap();
    assert_eq!(reply.status, 202, "{}", reply.json);
    assert_eq!(reply.json["status"], "queued");
    let job_id = reply.json["job_id"].as_str().unwrap().to_owned();
    assert_eq!(
        reply.headers["location"].to_str().unwrap(),
        format!("/v1/jobs/{job_id}")
    );
    job_id
}

/// The caller's images used today and this month (GET /v1/usage).
async fn images_used(env: &TestEnv, key: &str) -> (u64, u64) {
    let reply = env.call(Method::GET, "/v1/usage", key, None).await.unwrap();
    assert_eq!(reply.status, 200, "{}", reply.json);
    let windows = reply.json["windows"].as_array().unwrap();
    let used = |name: &str| {
        windows
            .iter()
            .find(|w| w["window"] == name && w["measure"] == "images")
            .and_then(|w| w["used"].as_u64())
            .unwrap()
    };
    (used("day"), used("month"))
}

async fn job_status(env: &TestEnv, job_id: &str) -> (JobStatus, u32) {
    let job = env
        .app
        .store
        .get_job(&JobId::parse(job_id).unwrap())
        .await
        .unwrap()
        .unwrap();
    (job.status, job.attempts)
}

#[tokio::test]
async fn a_posted_job_runs_through_sqs_and_the_worker_to_a_png_behind_a_presigned_url() {
    let env = TestEnv::new().await.unwrap();
    let key = env.api_key("acme", &SCOPES).await.unwrap();
    let image = png();
    let gemini = gemini_drawing(&image).await;

    env.calls.take();
    let job_id = post_job(&env, &key).await;
    let post_calls = env.calls.take();
    report(format!(
        "AWS calls for one POST /v1/images ({}): {post_calls}",
        env.emulator.kind.name()
    ));
    assert_eq!(post_calls.get("SQS.SendMessage"), 1, "{post_calls}");
    assert_eq!(post_calls.service("S3"), 0, "{post_calls}");

    // The job item in DynamoDB, the message in SQS.
    assert_eq!(job_status(&env, &job_id).await, (JobStatus::Queued, 0));
    let messages = env.receive(1, Duration::from_secs(5)).await.unwrap();
    assert_eq!(messages.len(), 1);
    let body: Value = serde_json::from_str(messages[0].body().unwrap()).unwrap();
    assert_eq!(body, json!({"job_id": job_id}));
    assert_eq!(receive_count(&messages[0]), 1);

    let worker = env.worker(env.gemini(&gemini.uri(), 1).unwrap());
    env.calls.take();
    let response = env.run_worker(&worker, &messages).await;
    let worker_calls = env.calls.take();
    assert!(response.batch_item_failures.is_empty(), "{response:?}");
    report(format!(
        "AWS calls for one worker run, 1 message, 1 image ({}): {worker_calls}",
        env.emulator.kind.name()
    ));
    assert_eq!(worker_calls.get("Secrets Manager.GetSecretValue"), 1);
    assert_eq!(worker_calls.get("S3.PutObject"), 1);
    env.settle(&messages, &response).await.unwrap();
    assert!(
        env.receive(1, Duration::from_millis(300))
            .await
            .unwrap()
            .is_empty(),
        "a processed message is deleted"
    );

    // Gemini was called once, with the key from Secrets Manager.
    let requests = gemini.received_requests().await.unwrap();
    assert_eq!(requests.len(), 1);
    assert_eq!(
        requests[0].headers.get("x-goog-api-key").unwrap(),
        FAKE_GEMINI_KEY
    );

    assert_eq!(
        env.object_keys(&format!("generated/acme/{job_id}/"))
            .await
            .unwrap(),
        [format!("generated/acme/{job_id}/a1/0.png")],
        "objects are per attempt"
    );

    let reply = env
        .call(Method::GET, &format!("/v1/jobs/{job_id}"), &key, None)
        .await
        .unwrap();
    assert_eq!(reply.status, 200, "{}", reply.json);
    assert_eq!(reply.json["status"], "succeeded", "{}", reply.json);
    let shown = &reply.json["images"][0];
    assert_eq!(shown["mime_type"], "image/png");
    assert_eq!(shown["width"], WIDTH);
    assert_eq!(shown["height"], HEIGHT);
    assert_eq!(shown["bytes"], image.len());
    // The model's usageMetadata, priced at the default list price and counted in DynamoDB.
    assert_eq!(
        reply.json["usage"],
        json!({"images_delivered": 1, "input_tokens": 10, "output_tokens": 1290,
               "estimated_cost_microdollars": 38703})
    );
    let usage = env
        .call(Method::GET, "/v1/usage", &key, None)
        .await
        .unwrap();
    assert_eq!(
        usage.json["cost"][0]["estimated_microdollars"], 38703,
        "{}",
        usage.json
    );

    // Download through the presigned URL, as a client would.
    let url = shown["url"].as_str().unwrap();
    let response = http_client().unwrap().get(url).send().await.unwrap();
    assert_eq!(response.status(), 200, "{url}");
    assert_eq!(response.headers()["content-type"], "image/png");
    // Saved under a name that says which job and image it is.
    assert_eq!(
        response.headers()["content-disposition"],
        format!("inline; filename=\"{job_id}-0.png\"").as_str()
    );
    let downloaded = response.bytes().await.unwrap();
    assert!(downloaded.starts_with(b"\x89PNG\r\n\x1a\n"));
    let decoded = image::load_from_memory(&downloaded).unwrap();
    assert_eq!((decoded.width(), decoded.height()), (WIDTH, HEIGHT));
    assert_eq!(downloaded.as_ref(), image.as_slice());

    assert_eq!(images_used(&env, &key).await, (1, 1));

    // Deleted, the job leaves S3 (each of its folders listed with every version, then deleted
    // in one batch) and DynamoDB.
    env.calls.take();
    let deleted = env
        .call(Method::DELETE, &format!("/v1/jobs/{job_id}"), &key, None)
        .await
        .unwrap();
    assert_eq!(deleted.status, 204, "{}", deleted.json);
    let delete_calls = env.calls.take();
    report(format!(
        "AWS calls for one DELETE /v1/jobs/{{id}} ({}): {delete_calls}",
        env.emulator.kind.name()
    ));
    assert_eq!(
        delete_calls.get("S3.ListObjectVersions"),
        2,
        "{delete_calls}"
    );
    assert_eq!(delete_calls.get("S3.DeleteObjects"), 1, "{delete_calls}");
    assert_eq!(delete_calls.get("DynamoDB.DeleteItem"), 1, "{delete_calls}");
    assert!(
        env.object_keys(&format!("generated/acme/{job_id}/"))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        env.object_versions(&format!("generated/acme/{job_id}/"))
            .await
            .unwrap(),
        0,
        "no old version and no delete marker is left in the versioned bucket"
    );
    let gone = env
        .call(Method::GET, &format!("/v1/jobs/{job_id}"), &key, None)
        .await
        .unwrap();
    assert_eq!(gone.status, 404, "{}", gone.json);
    let response = http_client().unwrap().get(url).send().await.unwrap();
    // Nothing to download: 404, or 403 where the store hides what is missing (moto does;
    // CloudFront in front of a private bucket does too).
    assert!(
        matches!(response.status().as_u16(), 403 | 404),
        "the download URL finds nothing: {}",
        response.status()
    );
}

#[tokio::test]
async fn an_idempotency_key_replays_its_job_and_refuses_another_body() {
    let env = TestEnv::new().await.unwrap();
    let key = env.api_key("acme", &SCOPES).await.unwrap();
    let post = |prompt: &'static str| {
        let env = &env;
        let key = &key;
        async move {
            let request = axum::http::Request::builder()
                .method(Method::POST)
                .uri("/v1/images")
                .header("x-api-key", key.as_str())
                .header("content-type", "application/json")
                .header("idempotency-key", "order-42")
                .body(axum::body::Body::from(
                    json!({"prompt": prompt, "count": 1}).to_string(),
                ))
                .unwrap();
            env.send(request).await.unwrap()
        }
    };
    let first = post("a lighthouse at dusk").await;
    assert_eq!(first.status, 202, "{}", first.json);
    let again = post("a lighthouse at dusk").await;
    assert!(again.status.is_success(), "{}", again.json);
    assert_eq!(again.json["job_id"], first.json["job_id"]);
    let other = post("a lighthouse at dawn").await;
    assert_eq!(other.status, 409, "{}", other.json);
    assert_eq!(other.json["error"]["code"], "conflict");
    // One job, one message, one charge.
    assert_eq!(
        env.receive(2, Duration::from_millis(500))
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(images_used(&env, &key).await, (1, 1));
}

#[tokio::test]
async fn a_redelivered_message_makes_no_second_image_set_and_no_second_charge() {
    let env = TestEnv::new().await.unwrap();
    let key = env.api_key("acme", &SCOPES).await.unwrap();
    let gemini = gemini_drawing(&png()).await;
    let job_id = post_job(&env, &key).await;
    let worker = env.worker(env.gemini(&gemini.uri(), 1).unwrap());

    let first = env.receive(1, Duration::from_secs(5)).await.unwrap();
    assert_eq!(first.len(), 1);
    let response = env.run_worker(&worker, &first).await;
    assert!(response.batch_item_failures.is_empty(), "{response:?}");
    let prefix = format!("generated/acme/{job_id}/");
    let objects = env.object_keys(&prefix).await.unwrap();
    let usage = images_used(&env, &key).await;
    assert_eq!(objects.len(), 1);
    assert_eq!(usage, (1, 1));

    // The delete never happened (a timeout, a crash): SQS delivers the same message again.
    env.make_visible(&first[0]).await.unwrap();
    let again = env.receive(1, Duration::from_secs(5)).await.unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].message_id(), first[0].message_id());
    assert_eq!(receive_count(&again[0]), 2);
    let response = env.run_worker(&worker, &again).await;
    assert!(response.batch_item_failures.is_empty(), "{response:?}");
    env.settle(&again, &response).await.unwrap();

    assert_eq!(env.object_keys(&prefix).await.unwrap(), objects);
    assert_eq!(images_used(&env, &key).await, usage);
    assert_eq!(gemini.received_requests().await.unwrap().len(), 1);
    assert_eq!(job_status(&env, &job_id).await, (JobStatus::Succeeded, 1));
}

/// Gemini throttling every call and asking for a minute.
async fn gemini_throttling() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(GEMINI_PATH))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("retry-after", "60")
                .set_body_json(json!({
                    "error": {"code": 429, "message": "Resource has been exhausted.", "status": "RESOURCE_EXHAUSTED"}
                })),
        )
        .mount(&server)
        .await;
    server
}

#[tokio::test]
async fn a_throttled_image_comes_back_after_the_hint_and_fails_when_its_calls_are_spent() {
    let env = TestEnv::new().await.unwrap();
    let max_receive_count = env.app.config.max_receive_count;
    assert_eq!(max_receive_count, 3);
    let key = env.api_key("acme", &SCOPES).await.unwrap();
    let gemini = gemini_throttling().await;
    let job_id = post_job(&env, &key).await;
    assert_eq!(
        images_used(&env, &key).await,
        (1, 1),
        "reserved at admission"
    );

    // Exactly what the worker Lambda does with its environment: 3 calls per image in all.
    let vars: HashMap<&str, String> = HashMap::from([
        ("IMAGEGEN_GEMINI_SECRET_ARN", env.secret_arn.clone()),
        ("IMAGEGEN_GEMINI_BASE_URL", gemini.uri()),
        ("IMAGEGEN_GEMINI_MAX_ATTEMPTS", "3".to_owned()),
    ]);
    let vars = Vars(move |name: &str| vars.get(name).cloned());
    let worker = env.worker(imagegen::aws::gemini_from_vars(&env.sdk, &vars).unwrap());

    for delivery in 1..=max_receive_count {
        let messages = env.receive(1, Duration::from_secs(5)).await.unwrap();
        assert_eq!(messages.len(), 1, "delivery {delivery}");
        assert_eq!(receive_count(&messages[0]), delivery);
        let response = env.run_worker(&worker, &messages).await;
        // One call per delivery: a minute's hint is not slept in a Lambda.
        assert_eq!(
            gemini.received_requests().await.unwrap().len(),
            delivery as usize
        );
        if delivery < max_receive_count {
            // Reported for retry, its visibility set to the hint: not back within the moment.
            assert_eq!(response.batch_item_failures.len(), 1, "delivery {delivery}");
            assert_eq!(
                job_status(&env, &job_id).await,
                (JobStatus::Queued, delivery)
            );
            assert!(
                env.receive(1, Duration::from_millis(300))
                    .await
                    .unwrap()
                    .is_empty(),
                "the message came back before the hint"
            );
        } else {
            // The last delivery spends the image's last call and ends the job.
            assert!(response.batch_item_failures.is_empty(), "{response:?}");
        }
        env.settle(&messages, &response).await.unwrap();
    }

    let reply = env
        .call(Method::GET, &format!("/v1/jobs/{job_id}"), &key, None)
        .await
        .unwrap();
    assert_eq!(reply.json["status"], "failed", "{}", reply.json);
    assert_eq!(reply.json["error"]["code"], "upstream_rate_limited");
    assert_eq!(reply.json["outcomes"][0]["state"], "failed");
    assert_eq!(reply.json["charged_images"], 0);
    assert_eq!(images_used(&env, &key).await, (0, 0), "refunded");
    assert_eq!(gemini.received_requests().await.unwrap().len(), 3);
    assert!(env.dead_letters().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_message_no_worker_can_read_goes_straight_to_the_dead_letter_queue() {
    let env = TestEnv::new().await.unwrap();
    let gemini = gemini_failing().await;
    let worker = env.worker(env.gemini(&gemini.uri(), 1).unwrap());
    env.clients
        .sqs
        .send_message()
        .queue_url(&env.resources.queue_url)
        .message_body(r#"{"job_id":"not-a-job-id"}"#)
        .send()
        .await
        .unwrap();
    let messages = env.receive(1, Duration::from_secs(5)).await.unwrap();
    assert_eq!(messages.len(), 1);
    let response = env.run_worker(&worker, &messages).await;
    // Not retried: retrying cannot make it a job message.
    assert!(response.batch_item_failures.is_empty(), "{response:?}");
    env.settle(&messages, &response).await.unwrap();
    assert!(
        env.receive(1, Duration::from_millis(300))
            .await
            .unwrap()
            .is_empty()
    );
    let dead = env.dead_letters().await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].body(), Some(r#"{"job_id":"not-a-job-id"}"#));
    assert!(gemini.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn the_janitor_ends_a_dead_lettered_job_and_an_overdue_one_and_refunds_both() {
    let env = TestEnv::new().await.unwrap();
    let key = env.api_key("acme", &SCOPES).await.unwrap();
    let gemini = gemini_failing().await;
    let worker = env.worker(env.gemini(&gemini.uri(), 1).unwrap());

    // Job 1: its message is in the dead-letter queue (as SQS's redrive leaves it).
    let dead_job = post_job(&env, &key).await;
    let messages = env.receive(1, Duration::from_secs(5)).await.unwrap();
    env.settle(&messages, &Default::default()).await.unwrap();
    env.clients
        .sqs
        .send_message()
        .queue_url(&env.dlq_url)
        .message_body(messages[0].body().unwrap())
        .send()
        .await
        .unwrap();
    // Job 2: still queued past its deadline (its message lost, say).
    let late_job = post_job(&env, &key).await;
    let late_id = JobId::parse(&late_job).unwrap();
    let late = env.app.store.get_job(&late_id).await.unwrap().unwrap();
    let mut overdue = late.clone();
    overdue.deadline_at = time::OffsetDateTime::now_utc().unix_timestamp() - 1;
    env.app
        .store
        .update_job(&overdue, late.expected())
        .await
        .unwrap();
    assert_eq!(images_used(&env, &key).await, (2, 2));

    let control = env.message_control();
    let report = imagegen::usecases::janitor::run(&worker, Some(&control)).await;
    assert_eq!(report.dead_lettered, 1, "{report:?}");
    assert_eq!(report.overdue, 1, "{report:?}");
    assert_eq!(report.errors, 0, "{report:?}");

    for (job_id, code) in [
        (&dead_job, "delivery_exhausted"),
        (&late_job, "deadline_exceeded"),
    ] {
        let reply = env
            .call(Method::GET, &format!("/v1/jobs/{job_id}"), &key, None)
            .await
            .unwrap();
        assert_eq!(reply.json["status"], "failed", "{}", reply.json);
        assert_eq!(reply.json["error"]["code"], code);
        assert_eq!(reply.json["outcomes"][0]["code"], code);
    }
    assert_eq!(images_used(&env, &key).await, (0, 0), "refunded once each");
    assert!(gemini.received_requests().await.unwrap().is_empty());

    // The dead letter stays for people (hidden from the janitor's next reads); a second run
    // finds nothing to do and refunds nothing twice.
    let again = imagegen::usecases::janitor::run(&worker, Some(&control)).await;
    assert_eq!(again, Default::default());
    assert_eq!(images_used(&env, &key).await, (0, 0));
}
