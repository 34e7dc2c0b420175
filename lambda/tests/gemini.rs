//! `GeminiClient` against a mock Gemini (wiremock): request shape, answers, errors, retries.
//!
//! Timeouts and backoff are milliseconds here so the whole file runs in well under a second
//! per test.

// The helpers below assert by unwrapping, like the tests that call them; clippy's
// allow-unwrap-in-tests only covers `#[test]` functions themselves.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use imagegen::gemini::client::GeminiClient;
use imagegen::gemini::{
    CallBudget, GeminiConfig, GenerateError, ImageGenerator, ImageRequest, InlineImage,
};
use imagegen::secrets::{CachedSecret, SecretSource, SecretString, SecretsError};
use serde_json::{Value, json};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const PATH: &str = "/v1beta/models/gemini-2.5-flash-image:generateContent";
/// A real 1x1 PNG: the client keeps only answers whose bytes are an image.
const PNG_BASE64: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==";
/// The calls one image may cost in these tests (the configured `max_attempts`).
const ATTEMPTS: u32 = 3;

fn png_bytes() -> Vec<u8> {
    STANDARD.decode(PNG_BASE64).unwrap()
}

/// Hands out `key-1`, `key-2`, … so tests can see which fetch a request used.
#[derive(Default)]
struct RotatingKeys {
    fetches: AtomicU32,
}

#[async_trait]
impl SecretSource for RotatingKeys {
    async fn fetch(&self) -> Result<SecretString, SecretsError> {
        let n = self.fetches.fetch_add(1, Ordering::SeqCst) + 1;
        Ok(SecretString::from(format!("key-{n}")))
    }
}

struct Unreachable;

#[async_trait]
impl SecretSource for Unreachable {
    async fn fetch(&self) -> Result<SecretString, SecretsError> {
        Err(SecretsError::unavailable("secrets manager timed out"))
    }
}

fn config(base_url: &str) -> GeminiConfig {
    GeminiConfig {
        base_url: base_url.to_owned(),
        request_timeout: Duration::from_millis(500),
        max_attempts: 3,
        backoff_base: Duration::from_millis(1),
        backoff_max: Duration::from_millis(5),
        ..GeminiConfig::default()
    }
}

fn client_with(config: GeminiConfig) -> (GeminiClient, Arc<RotatingKeys>) {
    let keys = Arc::new(RotatingKeys::default());
    let cache = Arc::new(CachedSecret::new(keys.clone()));
    (GeminiClient::new(config, cache).unwrap(), keys)
}

fn client(server: &MockServer) -> (GeminiClient, Arc<RotatingKeys>) {
    client_with(config(&server.uri()))
}

fn request(count: u8) -> ImageRequest {
    ImageRequest {
        prompt: "a lighthouse at dusk".into(),
        reference_images: Vec::new(),
        aspect_ratio: None,
        count,
        image_size: None,
    }
}

fn usage() -> Value {
    json!({"promptTokenCount": 10, "candidatesTokenCount": 1290, "totalTokenCount": 1300})
}

fn image_answer() -> Value {
    json!({
        "candidates": [{
            "content": {"role": "model", "parts": [
                {"text": "Here is your lighthouse."},
                {"inlineData": {"mimeType": "image/png", "data": PNG_BASE64}}
            ]},
            "finishReason": "STOP",
            "index": 0,
            "safetyRatings": []
        }],
        "usageMetadata": usage(),
        "modelVersion": "gemini-2.5-flash-image",
        "responseId": "abc"
    })
}

fn error_body(code: u16, status: &str, message: &str) -> Value {
    json!({"error": {"code": code, "message": message, "status": status}})
}

async fn mount(server: &MockServer, response: ResponseTemplate, times: u64) {
    Mock::given(method("POST"))
        .and(path(PATH))
        .respond_with(response)
        .expect(times)
        .mount(server)
        .await;
}

async fn request_count(server: &MockServer) -> usize {
    server.received_requests().await.unwrap().len()
}

#[tokio::test]
async fn one_image() {
    let server = MockServer::start().await;
    mount(
        &server,
        ResponseTemplate::new(200).set_body_json(image_answer()),
        1,
    )
    .await;
    let (client, _) = client(&server);

    let generation = client.generate(&request(1), ATTEMPTS).await.unwrap();

    assert_eq!(generation.images.len(), 1);
    assert_eq!(generation.images[0].mime_type(), "image/png");
    assert_eq!(generation.images[0].data, png_bytes());
    assert_eq!(
        (generation.images[0].width, generation.images[0].height),
        (1, 1)
    );
    assert_eq!(generation.calls, 1);
    assert_eq!(generation.usage.prompt_tokens, 10);
    assert_eq!(generation.usage.output_tokens, 1290);
    assert_eq!(generation.usage.total_tokens, 1300);
    assert_eq!(client.name(), "gemini");
}

#[tokio::test]
async fn several_images_are_several_calls() {
    let server = MockServer::start().await;
    mount(
        &server,
        ResponseTemplate::new(200).set_body_json(image_answer()),
        3,
    )
    .await;
    let (client, keys) = client(&server);

    let generation = client.generate(&request(3), ATTEMPTS).await.unwrap();

    assert_eq!(generation.images.len(), 3);
    assert_eq!(generation.calls, 3);
    assert_eq!(generation.usage.total_tokens, 3 * 1300);
    // The three concurrent calls share one cached key.
    assert_eq!(keys.fetches.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn partial_success_returns_the_images_it_got() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(PATH))
        .respond_with(ResponseTemplate::new(200).set_body_json(image_answer()))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    mount(&server, ResponseTemplate::new(503), 3).await;
    let (client, _) = client(&server);

    let generation = client.generate(&request(2), ATTEMPTS).await.unwrap();

    assert_eq!(generation.images.len(), 1);
    // One answered call, and three 503s for the other image: every call counts.
    assert_eq!(generation.calls, 4);
    assert_eq!(generation.usage.total_tokens, 1300);
}

#[tokio::test]
async fn text_only_answer_is_no_image() {
    let server = MockServer::start().await;
    let answer = json!({
        "candidates": [{"content": {"parts": [{"text": "I can only describe it."}]}, "finishReason": "STOP"}],
        "usageMetadata": usage()
    });
    mount(&server, ResponseTemplate::new(200).set_body_json(answer), 1).await;
    let (client, _) = client(&server);

    let err = client.generate(&request(1), ATTEMPTS).await.unwrap_err();

    assert_eq!(err.code(), "no_image");
    assert!(err.charged());
    assert!(!err.retryable());
}

#[tokio::test]
async fn prompt_block_reason_is_content_blocked() {
    let server = MockServer::start().await;
    let answer = json!({
        "promptFeedback": {"blockReason": "PROHIBITED_CONTENT", "safetyRatings": []},
        "usageMetadata": {"promptTokenCount": 10, "totalTokenCount": 10}
    });
    mount(&server, ResponseTemplate::new(200).set_body_json(answer), 1).await;
    let (client, _) = client(&server);

    let err = client.generate(&request(1), ATTEMPTS).await.unwrap_err();

    assert_eq!(err.code(), "content_blocked");
    assert!(err.charged());
    assert!(!err.retryable());
    assert!(err.to_string().contains("PROHIBITED_CONTENT"), "{err}");
}

#[tokio::test]
async fn safety_finish_reasons_are_content_blocked() {
    for reason in ["SAFETY", "IMAGE_SAFETY"] {
        let server = MockServer::start().await;
        let answer = json!({
            "candidates": [{"content": {"parts": []}, "finishReason": reason}],
            "usageMetadata": usage()
        });
        mount(&server, ResponseTemplate::new(200).set_body_json(answer), 1).await;
        let (client, _) = client(&server);

        let err = client.generate(&request(1), ATTEMPTS).await.unwrap_err();

        assert!(
            matches!(&err, GenerateError::ContentBlocked { reason: r } if r == reason),
            "{err:?}"
        );
        assert_eq!(err.code(), "content_blocked");
        assert!(err.charged());
    }
}

#[tokio::test]
async fn bad_request_is_invalid_request_and_not_retried() {
    let server = MockServer::start().await;
    let body = error_body(400, "INVALID_ARGUMENT", "Unsupported aspect ratio.");
    mount(&server, ResponseTemplate::new(400).set_body_json(body), 1).await;
    let (client, _) = client(&server);

    let err = client.generate(&request(1), ATTEMPTS).await.unwrap_err();

    assert_eq!(err.code(), "invalid_request");
    assert!(!err.charged());
    assert!(!err.retryable());
    assert!(
        err.to_string().contains("Unsupported aspect ratio"),
        "{err}"
    );
}

#[tokio::test]
async fn unauthorized_refreshes_the_key_once_and_succeeds() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(PATH))
        .and(header("x-goog-api-key", "key-1"))
        .respond_with(ResponseTemplate::new(401).set_body_json(error_body(
            401,
            "UNAUTHENTICATED",
            "Request had invalid authentication credentials.",
        )))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(PATH))
        .and(header("x-goog-api-key", "key-2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(image_answer()))
        .expect(1)
        .mount(&server)
        .await;
    let (client, keys) = client(&server);

    let generation = client.generate(&request(1), ATTEMPTS).await.unwrap();

    assert_eq!(generation.images.len(), 1);
    assert_eq!(keys.fetches.load(Ordering::SeqCst), 2);
    let sent: Vec<_> = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| r.headers["x-goog-api-key"].to_str().unwrap().to_owned())
        .collect();
    assert_eq!(sent, ["key-1", "key-2"]);
}

#[tokio::test]
async fn forbidden_twice_is_upstream_auth() {
    let server = MockServer::start().await;
    let body = error_body(403, "PERMISSION_DENIED", "Permission denied for key-1.");
    mount(&server, ResponseTemplate::new(403).set_body_json(body), 2).await;
    let (client, keys) = client(&server);

    let err = client.generate(&request(1), ATTEMPTS).await.unwrap_err();

    assert_eq!(err.code(), "upstream_auth");
    assert!(!err.charged());
    assert!(!err.retryable());
    assert_eq!(keys.fetches.load(Ordering::SeqCst), 2);
    let text = format!("{err} {err:?}");
    assert!(!text.contains("key-1") && !text.contains("key-2"), "{text}");
}

#[tokio::test]
async fn api_key_invalid_400_is_treated_as_auth() {
    let server = MockServer::start().await;
    let body = json!({"error": {"code": 400, "message": "API key not valid. Please pass a valid API key.",
        "status": "INVALID_ARGUMENT",
        "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID",
                     "domain": "googleapis.com"}]}});
    mount(&server, ResponseTemplate::new(400).set_body_json(body), 2).await;
    let (client, keys) = client(&server);

    let err = client.generate(&request(1), ATTEMPTS).await.unwrap_err();

    assert_eq!(err.code(), "upstream_auth");
    assert_eq!(keys.fetches.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_retry_hint_longer_than_a_backoff_is_not_slept_but_handed_back() {
    let server = MockServer::start().await;
    // An hour: sleeping it would hang this test (and a Lambda).
    mount(
        &server,
        ResponseTemplate::new(429).insert_header("retry-after", "3600"),
        1,
    )
    .await;
    let (client, _) = client(&server);

    let started = Instant::now();
    let err = client.generate(&request(1), ATTEMPTS).await.unwrap_err();

    assert!(
        matches!(err, GenerateError::RateLimited { attempts: 1, .. }),
        "{err:?}"
    );
    assert_eq!(err.retry_after(), Some(Duration::from_secs(3600)));
    assert_eq!(request_count(&server).await, 1);
    assert!(started.elapsed() < Duration::from_secs(1));
}

#[tokio::test]
async fn a_short_retry_hint_is_slept_and_the_call_retried() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(PATH))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "0"))
        .up_to_n_times(1)
        .with_priority(1)
        .expect(1)
        .mount(&server)
        .await;
    mount(
        &server,
        ResponseTemplate::new(200).set_body_json(image_answer()),
        1,
    )
    .await;
    let (client, _) = client(&server);

    let generation = client.generate(&request(1), ATTEMPTS).await.unwrap();

    assert_eq!(generation.images.len(), 1);
    assert_eq!(generation.calls, 2);
}

#[tokio::test]
async fn the_budget_bounds_the_calls_and_its_deadline_stops_retries() {
    let server = MockServer::start().await;
    mount(&server, ResponseTemplate::new(503), 3).await;
    let (client, _) = client(&server);
    let far = Instant::now() + Duration::from_secs(60);

    let attempt = client
        .generate_image(
            &request(1),
            0,
            CallBudget {
                calls: 2,
                until: far,
            },
        )
        .await;
    assert_eq!(attempt.calls, 2);
    assert_eq!(attempt.outcome.unwrap_err().code(), "upstream_error");

    // No time for another call before the deadline: one call, then the error.
    let attempt = client
        .generate_image(
            &request(1),
            0,
            CallBudget {
                calls: 3,
                until: Instant::now(),
            },
        )
        .await;
    assert_eq!(attempt.calls, 1);
    assert_eq!(request_count(&server).await, 3);
}

#[tokio::test]
async fn rate_limited_every_time_gives_up_after_max_attempts() {
    let server = MockServer::start().await;
    let body = error_body(429, "RESOURCE_EXHAUSTED", "Quota exceeded.");
    mount(&server, ResponseTemplate::new(429).set_body_json(body), 3).await;
    let (client, _) = client(&server);

    let err = client.generate(&request(1), ATTEMPTS).await.unwrap_err();

    assert_eq!(err.code(), "upstream_rate_limited");
    assert!(err.retryable());
    assert!(!err.charged());
    assert_eq!(request_count(&server).await, 3);
}

#[tokio::test]
async fn server_error_every_time_is_upstream_error() {
    let server = MockServer::start().await;
    let body = error_body(503, "UNAVAILABLE", "The model is overloaded.");
    mount(&server, ResponseTemplate::new(503).set_body_json(body), 3).await;
    let (client, _) = client(&server);

    let err = client.generate(&request(1), ATTEMPTS).await.unwrap_err();

    assert_eq!(err.code(), "upstream_error");
    assert!(err.retryable());
    assert!(!err.charged());
    assert!(err.to_string().contains("overloaded"), "{err}");
}

#[tokio::test]
async fn slow_answer_is_upstream_timeout() {
    let server = MockServer::start().await;
    mount(
        &server,
        ResponseTemplate::new(200)
            .set_body_json(image_answer())
            .set_delay(Duration::from_millis(800)),
        2,
    )
    .await;
    let (client, _) = client_with(GeminiConfig {
        request_timeout: Duration::from_millis(100),
        max_attempts: 2,
        ..config(&server.uri())
    });

    let started = Instant::now();
    let err = client.generate(&request(1), 2).await.unwrap_err();

    assert_eq!(err.code(), "upstream_timeout");
    assert!(err.retryable());
    assert!(!err.charged());
    // Two attempts of 100 ms each, not the mock's 800 ms.
    assert!(started.elapsed() < Duration::from_millis(600));
}

#[tokio::test]
async fn unreachable_host_is_upstream_unavailable() {
    // Bind and drop a listener to get a port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (client, _) = client_with(config(&format!("http://127.0.0.1:{port}")));

    let err = client.generate(&request(1), ATTEMPTS).await.unwrap_err();

    assert_eq!(err.code(), "upstream_unavailable");
    assert!(err.retryable());
    assert!(!err.charged());
}

#[tokio::test]
async fn missing_secret_is_secret_unavailable_and_sends_nothing() {
    let server = MockServer::start().await;
    mount(&server, ResponseTemplate::new(200), 0).await;
    let cache = Arc::new(CachedSecret::new(Arc::new(Unreachable)));
    let client = GeminiClient::new(config(&server.uri()), cache).unwrap();

    let err = client.generate(&request(1), ATTEMPTS).await.unwrap_err();

    assert_eq!(err.code(), "secret_unavailable");
    assert!(err.retryable());
    assert!(!err.charged());
}

#[tokio::test]
async fn malformed_json_is_upstream_malformed() {
    let server = MockServer::start().await;
    mount(
        &server,
        ResponseTemplate::new(200).set_body_string("{\"candidates\": [ oops"),
        3,
    )
    .await;
    let (client, _) = client(&server);

    let err = client.generate(&request(1), ATTEMPTS).await.unwrap_err();

    // Billed by Gemini, useless to us: retried within the budget, every call counted.
    assert_eq!(err.code(), "upstream_malformed");
    assert!(err.charged());
    assert!(err.retryable());
    assert_eq!(request_count(&server).await, 3);
}

#[tokio::test]
async fn bad_base64_is_upstream_malformed() {
    let server = MockServer::start().await;
    let answer = json!({
        "candidates": [{"content": {"parts": [
            {"inlineData": {"mimeType": "image/png", "data": "%%% not base64 %%%"}}
        ]}, "finishReason": "STOP"}],
        "usageMetadata": usage()
    });
    mount(&server, ResponseTemplate::new(200).set_body_json(answer), 3).await;
    let (client, _) = client(&server);

    let err = client.generate(&request(1), ATTEMPTS).await.unwrap_err();

    assert_eq!(err.code(), "upstream_malformed");
    assert!(err.charged());
}

#[tokio::test]
async fn inline_data_that_is_not_an_image_is_upstream_malformed_whatever_its_type() {
    let svg = r#"<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>"#;
    for (mime_type, data) in [
        ("image/png", STANDARD.encode("just some text, no pixels")),
        ("image/svg+xml", STANDARD.encode(svg)),
        ("text/plain", STANDARD.encode("hello")),
    ] {
        let server = MockServer::start().await;
        let answer = json!({
            "candidates": [{"content": {"parts": [
                {"inlineData": {"mimeType": mime_type, "data": data}}
            ]}, "finishReason": "STOP"}],
            "usageMetadata": usage()
        });
        // A malformed answer is retried within the budget; an answer without an image is not.
        let calls = if mime_type == "text/plain" { 1 } else { 3 };
        mount(
            &server,
            ResponseTemplate::new(200).set_body_json(answer),
            calls,
        )
        .await;
        let (client, _) = client(&server);

        let err = client.generate(&request(1), ATTEMPTS).await.unwrap_err();

        // A non-image part is no image at all (text/plain); an image part that is not one is
        // malformed. Neither is ever returned as an image.
        let expected = if mime_type == "text/plain" {
            "no_image"
        } else {
            "upstream_malformed"
        };
        assert_eq!(err.code(), expected, "{mime_type}");
    }
}

#[tokio::test]
async fn request_shape() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(PATH))
        .and(header("x-goog-api-key", "key-1"))
        .and(header("content-type", "application/json"))
        .respond_with(ResponseTemplate::new(200).set_body_json(image_answer()))
        .expect(1)
        .mount(&server)
        .await;
    let (client, _) = client(&server);
    let reference = vec![0u8, 1, 2, 250, 255];

    client
        .generate(
            &ImageRequest {
                prompt: "make it blue".into(),
                reference_images: vec![InlineImage {
                    mime_type: "image/jpeg".into(),
                    data: reference.clone(),
                }],
                aspect_ratio: Some("16:9".into()),
                count: 1,
                image_size: Some("2K".into()),
            },
            ATTEMPTS,
        )
        .await
        .unwrap();

    let requests = server.received_requests().await.unwrap();
    let body: Value = requests[0].body_json().unwrap();
    assert_eq!(
        body,
        json!({
            "contents": [{"role": "user", "parts": [
                {"text": "make it blue"},
                {"inlineData": {"mimeType": "image/jpeg", "data": STANDARD.encode(&reference)}}
            ]}],
            "generationConfig": {
                "responseModalities": ["TEXT", "IMAGE"],
                "imageConfig": {"aspectRatio": "16:9", "imageSize": "2K"}
            }
        })
    );
}

#[tokio::test]
async fn no_aspect_ratio_omits_image_config() {
    let server = MockServer::start().await;
    mount(
        &server,
        ResponseTemplate::new(200).set_body_json(image_answer()),
        1,
    )
    .await;
    let (client, _) = client(&server);

    client.generate(&request(1), ATTEMPTS).await.unwrap();

    let body: Value = server.received_requests().await.unwrap()[0]
        .body_json()
        .unwrap();
    assert_eq!(
        body["generationConfig"],
        json!({"responseModalities": ["TEXT", "IMAGE"]})
    );
}
