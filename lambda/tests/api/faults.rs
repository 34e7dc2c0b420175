//! The fault matrix: the real worker and the real Gemini client against a Gemini stand-in
//! (wiremock) that throttles, fails, stalls, garbles, refuses and answers with things that are
//! not images. Each case asserts the job's final state, every image's outcome and code, the
//! upstream calls made, and the tenant's usage before and after, exactly.
//!
//! `fault_matrix` prints the table the closing note of the "jobs you can trust" issue quotes
//! (`cargo nextest run -p imagegen --test api faults --no-capture`).

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use imagegen::gemini::GeminiConfig;
use imagegen::gemini::client::GeminiClient;
use imagegen::queue::{DeadLetter, DeadLetters, QueueError};
use imagegen::secrets::{CachedSecret, SecretString, StaticSecret};
use imagegen::store::Store as _;
use imagegen::usecases::janitor;
use serde_json::{Value, json};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::common::*;

/// Calls one image may cost in all (the deployed default).
const ATTEMPTS: u32 = 3;

fn client(server: &MockServer, backoff: Duration) -> GeminiClient {
    let config = GeminiConfig {
        base_url: server.uri(),
        request_timeout: Duration::from_millis(300),
        max_attempts: ATTEMPTS,
        backoff_base: backoff,
        backoff_max: backoff * 2,
        ..GeminiConfig::default()
    };
    let key = Arc::new(CachedSecret::new(Arc::new(StaticSecret::new(
        SecretString::from("k"),
    ))));
    GeminiClient::new(config, key).unwrap()
}

fn answer_with(mime_type: &str, data: &[u8]) -> Value {
    json!({
        "candidates": [{"content": {"parts": [
            {"text": "here it is"},
            {"inlineData": {"mimeType": mime_type, "data": STANDARD.encode(data)}}
        ]}, "finishReason": "STOP"}],
        "usageMetadata": {"promptTokenCount": 10, "candidatesTokenCount": 1290, "totalTokenCount": 1300}
    })
}

fn image_answer() -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(answer_with("image/png", &png(16, 8)))
}

fn finish(reason: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "candidates": [{"content": {"parts": []}, "finishReason": reason}],
        "usageMetadata": {"promptTokenCount": 10, "totalTokenCount": 10}
    }))
}

fn status(code: u16) -> ResponseTemplate {
    ResponseTemplate::new(code).set_body_json(json!({
        "error": {"code": code, "message": "upstream trouble", "status": "UNAVAILABLE"}
    }))
}

/// One response for the first `times` calls (`None`: every call), at `priority` (1 first).
struct Step {
    response: ResponseTemplate,
    times: Option<u64>,
}

fn always(response: ResponseTemplate) -> Vec<Step> {
    vec![Step {
        response,
        times: None,
    }]
}

fn first(times: u64, response: ResponseTemplate, then: ResponseTemplate) -> Vec<Step> {
    vec![
        Step {
            response,
            times: Some(times),
        },
        Step {
            response: then,
            times: None,
        },
    ]
}

async fn stand_in(steps: Vec<Step>) -> MockServer {
    let server = MockServer::start().await;
    for (priority, step) in (1u8..).zip(steps) {
        let mock = Mock::given(method("POST")).respond_with(step.response);
        let mock = match step.times {
            Some(n) => mock.up_to_n_times(n),
            None => mock,
        };
        mock.with_priority(priority).mount(&server).await;
    }
    server
}

/// What a case must end with.
struct Expect {
    status: &'static str,
    /// Each image's `state/code`, sorted (concurrent images finish in any order).
    outcomes: Vec<&'static str>,
    calls: usize,
    charged: u64,
    refused: u64,
}

/// A row of the printed table.
struct Row {
    case: &'static str,
    status: String,
    codes: String,
    calls: usize,
    charged: u64,
    refused: u64,
}

fn outcomes_of(job: &Value) -> Vec<String> {
    let mut outcomes: Vec<String> = job["outcomes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| match o["code"].as_str() {
            Some(code) => format!("{}/{code}", o["state"].as_str().unwrap()),
            None => o["state"].as_str().unwrap().to_owned(),
        })
        .collect();
    outcomes.sort();
    outcomes
}

/// Runs one job of `count` images through the queue loop against `server`, and checks it.
async fn case(
    name: &'static str,
    count: u8,
    server: MockServer,
    backoff: Duration,
    expect: Expect,
) -> Row {
    let h = Harness::builder()
        .generator(Arc::new(client(&server, backoff)))
        .image_attempts(ATTEMPTS)
        .build();
    let key = h.create_key("acme", ALL_SCOPES).await;
    let res = h
        .post_image(&key, json!({"prompt": "a lighthouse", "count": count}))
        .await;
    res.assert_status(202);
    let job_id = res.json["job_id"].as_str().unwrap().to_owned();
    assert_eq!(
        h.used(&key, "day").await,
        u64::from(count),
        "{name}: reserved"
    );
    // Every image may yet be refused: reserved on the refusal allowance too.
    assert_eq!(h.used(&key, "refused").await, u64::from(count), "{name}");

    h.run_worker().await;

    let job = h.get_job(&key, &job_id).await.json;
    let calls = server.received_requests().await.unwrap().len();
    let row = Row {
        case: name,
        status: job["status"].as_str().unwrap().to_owned(),
        codes: outcomes_of(&job).join(", "),
        calls,
        charged: h.used(&key, "day").await,
        refused: h.used(&key, "refused").await,
    };
    assert_eq!(row.status, expect.status, "{name}: {job}");
    assert_eq!(outcomes_of(&job), expect.outcomes, "{name}: {job}");
    assert_eq!(calls, expect.calls, "{name}: upstream calls");
    assert_eq!(row.charged, expect.charged, "{name}: charged");
    assert_eq!(job["charged_images"], expect.charged, "{name}: {job}");
    assert_eq!(row.refused, expect.refused, "{name}: refused");
    assert_eq!(
        job["images"].as_array().unwrap().len() as u64,
        expect.charged,
        "{name}: only delivered images are served"
    );
    // Every stored object is an image of the declared type; the job names exactly those.
    for image in job["images"].as_array().unwrap() {
        assert_eq!(image["mime_type"], "image/png", "{name}");
        assert!(image["width"].as_u64().unwrap() > 0, "{name}");
    }
    assert_eq!(
        h.generated_files() as u64,
        expect.charged,
        "{name}: stored objects"
    );
    row
}

fn expect(
    status: &'static str,
    outcomes: Vec<&'static str>,
    calls: usize,
    charged: u64,
    refused: u64,
) -> Expect {
    Expect {
        status,
        outcomes,
        calls,
        charged,
        refused,
    }
}

const FAST: Duration = Duration::from_millis(1);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_matrix() {
    let ok = |body: Value| ResponseTemplate::new(200).set_body_json(body);
    let whole = serde_json::to_string(&answer_with("image/png", &png(16, 8))).unwrap();
    let svg = br#"<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>"#;
    let refused = |reason: &str| {
        (
            always(finish(reason)),
            expect("failed", vec!["refused/content_blocked"], 1, 0, 1),
        )
    };
    // One image each; a retryable failure costs the whole budget of 3 calls.
    let single: Vec<(&str, (Vec<Step>, Expect))> = vec![
        (
            "429 once, then an image",
            (
                first(1, status(429), image_answer()),
                expect("succeeded", vec!["delivered"], 2, 1, 0),
            ),
        ),
        (
            // One call per delivery (the hint is not slept), three deliveries.
            "429 every time, 60 s hint",
            (
                always(status(429).insert_header("retry-after", "60")),
                expect("failed", vec!["failed/upstream_rate_limited"], 3, 0, 0),
            ),
        ),
        (
            "500 every time",
            (
                always(status(500)),
                expect("failed", vec!["failed/upstream_error"], 3, 0, 0),
            ),
        ),
        (
            "503 then an image",
            (
                first(1, status(503), image_answer()),
                expect("succeeded", vec!["delivered"], 2, 1, 0),
            ),
        ),
        (
            "no answer within the timeout",
            (
                always(image_answer().set_delay(Duration::from_secs(2))),
                expect("failed", vec!["failed/upstream_timeout"], 3, 0, 0),
            ),
        ),
        (
            "malformed JSON",
            (
                always(ResponseTemplate::new(200).set_body_string("{\"candidates\": [ oops")),
                expect("failed", vec!["failed/upstream_malformed"], 3, 0, 0),
            ),
        ),
        (
            "truncated body",
            (
                always(ResponseTemplate::new(200).set_body_string(&whole[..whole.len() / 2])),
                expect("failed", vec!["failed/upstream_malformed"], 3, 0, 0),
            ),
        ),
        ("finishReason IMAGE_SAFETY", refused("IMAGE_SAFETY")),
        (
            "finishReason PROHIBITED_CONTENT",
            refused("PROHIBITED_CONTENT"),
        ),
        ("finishReason RECITATION", refused("RECITATION")),
        ("finishReason SAFETY", refused("SAFETY")),
        (
            "prompt blocked",
            (
                always(ok(json!({
                    "promptFeedback": {"blockReason": "PROHIBITED_CONTENT"},
                    "usageMetadata": {"promptTokenCount": 10, "totalTokenCount": 10}
                }))),
                expect("failed", vec!["refused/content_blocked"], 1, 0, 1),
            ),
        ),
        (
            "text only",
            (
                always(ok(json!({
                    "candidates": [{"content": {"parts": [{"text": "I'd rather describe it."}]}, "finishReason": "STOP"}]
                }))),
                expect("failed", vec!["refused/no_image"], 1, 0, 1),
            ),
        ),
        (
            "non-image bytes as image/png",
            (
                always(ok(answer_with("image/png", b"plain text, not pixels"))),
                expect("failed", vec!["failed/upstream_malformed"], 3, 0, 0),
            ),
        ),
        (
            "SVG with a script",
            (
                always(ok(answer_with("image/svg+xml", svg))),
                expect("failed", vec!["failed/upstream_malformed"], 3, 0, 0),
            ),
        ),
        (
            "oversized image (20000x20000)",
            (
                always(ok(answer_with("image/png", &png_claiming(20_000, 20_000)))),
                expect("failed", vec!["failed/upstream_malformed"], 3, 0, 0),
            ),
        ),
    ];
    let mut rows = Vec::new();
    for (name, (steps, expected)) in single {
        rows.push(case(name, 1, stand_in(steps).await, FAST, expected).await);
    }
    // 4 images: the first call is refused, the next three get a 500, then images. Backoff long
    // enough that every image's first call lands before any retry.
    let mixed = vec![
        Step {
            response: finish("IMAGE_SAFETY"),
            times: Some(1),
        },
        Step {
            response: status(500),
            times: Some(3),
        },
        Step {
            response: image_answer(),
            times: None,
        },
    ];
    rows.push(
        case(
            "4 images: 1 refused, 3 hit a 500 then succeed",
            4,
            stand_in(mixed).await,
            Duration::from_millis(250),
            expect(
                "succeeded",
                vec![
                    "delivered",
                    "delivered",
                    "delivered",
                    "refused/content_blocked",
                ],
                7,
                3,
                1,
            ),
        )
        .await,
    );
    rows.push(
        case(
            "4 images: 2 refused, 2 fail for good",
            4,
            stand_in(vec![
                Step {
                    response: finish("IMAGE_SAFETY"),
                    times: Some(2),
                },
                Step {
                    response: status(500),
                    times: None,
                },
            ])
            .await,
            Duration::from_millis(250),
            expect(
                "failed",
                vec![
                    "failed/upstream_error",
                    "failed/upstream_error",
                    "refused/content_blocked",
                    "refused/content_blocked",
                ],
                8,
                0,
                2,
            ),
        )
        .await,
    );
    rows.push(redelivered_after_success().await);
    rows.push(dead_lettered().await);
    rows.push(past_its_deadline().await);

    println!("| case | final state | image outcomes | upstream calls | charged | refused |");
    println!("|---|---|---|---|---|---|");
    for row in &rows {
        println!(
            "| {} | {} | {} | {} | {} | {} |",
            row.case, row.status, row.codes, row.calls, row.charged, row.refused
        );
    }
}

/// The same message delivered again after the job succeeded: no call, no object, no charge.
async fn redelivered_after_success() -> Row {
    let server = stand_in(always(image_answer())).await;
    let h = Harness::builder()
        .generator(Arc::new(client(&server, FAST)))
        .build();
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
        imagegen::usecases::generation::StepOutcome::Succeeded
    );
    let before = h.get_job(&key, &job_id).await.json;
    for receive in 2..=4 {
        assert_eq!(
            h.worker.process(&delivery.message, receive).await.unwrap(),
            imagegen::usecases::generation::StepOutcome::Skipped
        );
    }
    let after = h.get_job(&key, &job_id).await.json;
    assert_eq!(outcomes_of(&after), ["delivered", "delivered"]);
    assert_eq!(after["updated_at"], before["updated_at"]);
    assert_eq!(server.received_requests().await.unwrap().len(), 2);
    assert_eq!(h.generated_files(), 2);
    assert_eq!(h.used(&key, "day").await, 2);
    Row {
        case: "redelivery of a finished job's message (x3)",
        status: after["status"].as_str().unwrap().to_owned(),
        codes: outcomes_of(&after).join(", "),
        calls: 2,
        charged: 2,
        refused: 0,
    }
}

/// A dead-letter queue holding given messages.
struct Letters(Vec<String>);

#[async_trait::async_trait]
impl DeadLetters for Letters {
    async fn receive(&self, max: usize, _hide: Duration) -> Result<Vec<DeadLetter>, QueueError> {
        Ok(self
            .0
            .iter()
            .take(max)
            .enumerate()
            .map(|(n, body)| DeadLetter {
                message_id: format!("m{n}"),
                body: body.clone(),
            })
            .collect())
    }
}

/// A job whose message the queue gave up on (every delivery found it busy): the janitor ends
/// it, refunds it, and a second reading of the same dead letter changes nothing.
async fn dead_lettered() -> Row {
    let server = stand_in(always(image_answer())).await;
    let h = Harness::builder()
        .generator(Arc::new(client(&server, FAST)))
        .build();
    let key = h.create_key("acme", ALL_SCOPES).await;
    let job_id = h
        .post_image(&key, json!({"prompt": "a fox", "count": 2}))
        .await
        .json["job_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let body = serde_json::to_string(&h.deliveries().pop().unwrap().message).unwrap();
    assert_eq!(h.used(&key, "day").await, 2);
    // Another job whose message was dead-lettered while a worker still holds it (within its
    // lease): left to that worker.
    let held_id = h.submit(&key, "held").await;
    let held_body = serde_json::to_string(&h.deliveries().pop().unwrap().message).unwrap();
    let held = h.stored_job(&held_id).await;
    h.memory
        .update_job(&held.claimed(h.app.clock.now()), held.expected())
        .await
        .unwrap();
    let letters = Letters(vec![body, "not a job message".into(), held_body]);
    let report = janitor::run(&h.worker, Some(&letters)).await;
    assert_eq!(
        (report.dead_lettered, report.unreadable, report.errors),
        (1, 1, 0),
        "{report:?}"
    );
    assert_eq!(h.get_job(&key, &held_id).await.json["status"], "running");
    let again = janitor::run(&h.worker, Some(&letters)).await;
    assert_eq!(again.dead_lettered, 0, "{again:?}");
    let job = h.get_job(&key, &job_id).await.json;
    assert_eq!(job["status"], "failed");
    assert_eq!(job["error"]["code"], "delivery_exhausted");
    assert_eq!(
        outcomes_of(&job),
        ["failed/delivery_exhausted", "failed/delivery_exhausted"]
    );
    assert_eq!(
        h.used(&key, "day").await,
        1,
        "only the held job's image stays reserved"
    );
    assert_eq!(server.received_requests().await.unwrap().len(), 0);
    Row {
        case: "dead-lettered message (janitor, read twice)",
        status: "failed".into(),
        codes: outcomes_of(&job).join(", "),
        calls: 0,
        charged: 0,
        refused: 0,
    }
}

/// A job still queued past its deadline (its message lost): the sweep ends it; a job within
/// its deadline is left alone; a worker arriving late finds nothing to do.
async fn past_its_deadline() -> Row {
    let server = stand_in(always(image_answer())).await;
    let h = Harness::builder()
        .generator(Arc::new(client(&server, FAST)))
        .build();
    let key = h.create_key("acme", ALL_SCOPES).await;
    let job_id = h.submit(&key, "a fox").await;
    let delivery = h.deliveries().pop().unwrap();
    let deadline = h.app.config.job_deadline();

    h.advance(time::Duration::try_from(deadline).unwrap() - time::Duration::seconds(5));
    let early = janitor::run(&h.worker, None).await;
    assert_eq!(early.overdue, 0, "{early:?}");
    assert_eq!(h.get_job(&key, &job_id).await.json["status"], "queued");

    h.advance(time::Duration::seconds(10));
    let report = janitor::run(&h.worker, None).await;
    assert_eq!(report.overdue, 1, "{report:?}");
    let job = h.get_job(&key, &job_id).await.json;
    assert_eq!(job["status"], "failed");
    assert_eq!(job["error"]["code"], "deadline_exceeded");
    assert_eq!(h.used(&key, "day").await, 0);
    // The lost message turns up after all: the job is over, nothing runs, nothing is charged.
    assert_eq!(
        h.worker.process(&delivery.message, 1).await.unwrap(),
        imagegen::usecases::generation::StepOutcome::Skipped
    );
    assert_eq!(server.received_requests().await.unwrap().len(), 0);
    assert_eq!(h.used(&key, "day").await, 0);
    Row {
        case: "past its deadline (sweep; the late message is skipped)",
        status: "failed".into(),
        codes: outcomes_of(&job).join(", "),
        calls: 0,
        charged: 0,
        refused: 0,
    }
}

/// Usage comes from the model's `usageMetadata` (the real client against the stand-in), adds up
/// over the job's calls, is priced from the table, and lands on the tenant's cost counters and
/// in an EMF metric.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_jobs_usage_is_the_models_count_and_its_cost_the_list_price() {
    // The first call is throttled (no usage), then each image is answered: 10 prompt and
    // 1,290 output tokens each.
    let server = stand_in(first(1, status(429), image_answer())).await;
    let h = Harness::builder()
        .generator(Arc::new(client(&server, FAST)))
        .image_attempts(ATTEMPTS)
        .build();
    let key = h.create_key("acme", ALL_SCOPES).await;
    let res = h
        .post_image(&key, json!({"prompt": "a lighthouse", "count": 2}))
        .await;
    let job_id = res.json["job_id"].as_str().unwrap().to_owned();
    let queued = h.get_job(&key, &job_id).await;
    assert_eq!(
        queued.json["usage"],
        json!({"images_delivered": 0, "input_tokens": 0, "output_tokens": 0})
    );
    h.run_worker().await;
    let job = h.get_job(&key, &job_id).await;
    assert_eq!(job.json["status"], "succeeded", "{}", job.json);
    // $0.30 and $30 per million tokens: 20 x 0.3 + 2,580 x 30 = 77,406 micro-dollars.
    assert_eq!(
        job.json["usage"],
        json!({
            "images_delivered": 2,
            "input_tokens": 20,
            "output_tokens": 2580,
            "estimated_cost_microdollars": 77406,
        })
    );
    let usage = h.call("GET", "/v1/usage", Some(&key.key), None).await;
    usage.assert_status(200);
    let cost: Vec<(String, u64)> = usage.json["cost"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["window"].as_str().unwrap().to_owned(),
                c["estimated_microdollars"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        cost,
        [("day".to_owned(), 77406), ("month".to_owned(), 77406)]
    );
    let metered: f64 = h
        .emf()
        .iter()
        .filter_map(|r| r["EstimatedCostMicrodollars"].as_f64())
        .sum();
    assert_eq!(metered, 77406.0);
    // Another tenant's cost is its own.
    let other = h.create_key("globex", ALL_SCOPES).await;
    let theirs = h.call("GET", "/v1/usage", Some(&other.key), None).await;
    assert_eq!(theirs.json["cost"][0]["estimated_microdollars"], 0);
}

/// An answer whose header reads but whose pixels do not decode cannot become the JPEG asked
/// for: the image fails at once, not charged, and costs no further calls.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_image_that_cannot_be_re_encoded_fails_without_more_calls() {
    let mut broken = png(16, 8);
    // The signature and IHDR (33 bytes) stay; the image data after them does not.
    let end = broken.len() - 12;
    broken[41..end].fill(0xff);
    let ok = ResponseTemplate::new(200).set_body_json(answer_with("image/png", &broken));
    let server = stand_in(always(ok)).await;
    let h = Harness::builder()
        .generator(Arc::new(client(&server, FAST)))
        .image_attempts(ATTEMPTS)
        .build();
    let key = h.create_key("acme", ALL_SCOPES).await;
    let res = h
        .post_image(
            &key,
            json!({"prompt": "a lighthouse", "output_format": "jpeg"}),
        )
        .await;
    let job_id = res.json["job_id"].as_str().unwrap().to_owned();
    h.run_worker().await;
    let job = h.get_job(&key, &job_id).await.json;
    assert_eq!(job["status"], "failed", "{job}");
    assert_eq!(outcomes_of(&job), ["failed/output_format_failed"]);
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
    assert_eq!(h.used(&key, "day").await, 0, "not charged");
    assert_eq!(h.generated_files(), 0);
}
