//! Logs and metrics of the main flows: no key, secret or prompt where it must not be, and the
//! fields and metrics operations rely on.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use imagegen::gemini::GeminiConfig;
use imagegen::gemini::client::GeminiClient;
use imagegen::secrets::{CachedSecret, SecretString, StaticSecret};
use serde_json::{Value, json};
use tracing_subscriber as subscriber;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::common::*;

const GEMINI_KEY: &str = "AIzaSyFAKE-gemini-key-0123456789abcdefXYZ";
const PROMPT: &str = "a confidential prompt about zebra number 7431";
const GEMINI_PATH: &str = "/v1beta/models/gemini-2.5-flash-image:generateContent";

/// Log lines land here.
#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Buffer {
    fn lines(&self) -> Vec<String> {
        String::from_utf8(self.0.lock().unwrap().clone())
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

fn gemini_answer() -> Value {
    json!({
        "candidates": [{
            "content": {"role": "model", "parts": [
                {"inlineData": {"mimeType": "image/png", "data": b64(&png(64, 48))}}
            ]},
            "finishReason": "STOP"
        }],
        "usageMetadata": {"promptTokenCount": 10, "candidatesTokenCount": 1290, "totalTokenCount": 1300}
    })
}

async fn gemini(server: &MockServer) -> Arc<GeminiClient> {
    // The first call is refused as if the cached key had been rotated away; the error body
    // even quotes the key, as a careless upstream might.
    Mock::given(method("POST"))
        .and(path(GEMINI_PATH))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({"error": {
            "code": 401, "status": "UNAUTHENTICATED",
            "message": format!("API key not valid: {GEMINI_KEY}")
        }})))
        .up_to_n_times(1)
        .with_priority(1)
        .expect(1)
        .mount(server)
        .await;
    Mock::given(method("POST"))
        .and(path(GEMINI_PATH))
        .and(header("x-goog-api-key", GEMINI_KEY))
        .respond_with(ResponseTemplate::new(200).set_body_json(gemini_answer()))
        .expect(3)
        .mount(server)
        .await;
    let secret = Arc::new(CachedSecret::new(Arc::new(StaticSecret::new(
        SecretString::from(GEMINI_KEY),
    ))));
    let config = GeminiConfig {
        base_url: server.uri(),
        request_timeout: Duration::from_secs(5),
        backoff_base: Duration::from_millis(1),
        backoff_max: Duration::from_millis(5),
        ..GeminiConfig::default()
    };
    Arc::new(GeminiClient::new(config, secret).unwrap())
}

#[tokio::test]
async fn logs_and_metrics_carry_what_operators_need_and_no_secrets() {
    // Everything this test does runs on this thread (current-thread runtime), so a scoped
    // subscriber sees all of it, at debug level, in the production JSON format.
    let buffer = Buffer::default();
    let writer = buffer.clone();
    let subscriber = subscriber::fmt()
        .json()
        .with_max_level(tracing::Level::DEBUG)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let server = MockServer::start().await;
    let h = Harness::builder().generator(gemini(&server).await).build();

    // Keys: create, use, rotate, use both, a wrong secret, revoke.
    let key = h.create_key("acme", ALL_SCOPES).await;
    let rotated = h
        .call(
            "POST",
            &format!("/v1/admin/keys/{}/rotate", key.key_id),
            Some(ADMIN_KEY),
            None,
        )
        .await;
    rotated.assert_status(200);
    let new_key = rotated.json["key"].as_str().unwrap().to_owned();
    let new = Key {
        key_id: key.key_id.clone(),
        key: new_key.clone(),
        body: rotated.json.clone(),
    };
    let wrong = format!("igk_{}_{}", key.key_id, "Z".repeat(40));
    h.call("GET", "/v1/jobs", Some(&wrong), None)
        .await
        .assert_error(401, "unauthorized");
    h.call("GET", "/v1/usage", Some(&key.key), None)
        .await
        .assert_status(200);

    // Images with a reference: inline and uploaded.
    let upload = h.declare_upload(&new.key, &png(40, 40), "image/png").await;
    h.put_url(
        upload.json["url"].as_str().unwrap(),
        png(40, 40),
        "image/png",
    )
    .await
    .assert_status(200);
    let submitted = h
        .post_image(
            &new,
            json!({
                "prompt": PROMPT,
                "count": 2,
                "reference_images": [{"data": b64(&png(30, 30)), "mime_type": "image/png"}],
                "reference_upload_ids": [upload.json["upload_id"]]
            }),
        )
        .await;
    submitted.assert_status(202);
    let request_id = submitted.header("x-request-id").unwrap().to_owned();
    let job_id = submitted.json["job_id"].as_str().unwrap().to_owned();
    let second = h.post_image(&key, json!({"prompt": PROMPT})).await;
    second.assert_status(202);

    // The worker calls "Gemini": a 401, a key refresh, then answers.
    let outcomes = h.run_worker().await;
    assert!(outcomes.iter().all(|(_, r)| r.is_ok()), "{outcomes:?}");
    let job = h.get_job(&new, &job_id).await;
    assert_eq!(job.json["status"], "succeeded", "{}", job.json);
    assert_eq!(job.json["images"].as_array().unwrap().len(), 2);
    h.call("GET", "/v1/jobs", Some(&new.key), None)
        .await
        .assert_status(200);
    h.call(
        "DELETE",
        &format!("/v1/admin/keys/{}", key.key_id),
        Some(ADMIN_KEY),
        None,
    )
    .await
    .assert_status(200);
    h.call("GET", "/v1/jobs", Some(&new.key), None)
        .await
        .assert_error(401, "unauthorized");
    server.verify().await;

    let lines = buffer.lines();
    let emf = h.metric_lines.lock().unwrap().clone();
    assert!(
        lines.len() > 20,
        "the subscriber saw the flows: {} lines",
        lines.len()
    );
    let records: Vec<Value> = lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();

    // No API key, secret part, admin key or Gemini key, in any log line or metric.
    let forbidden = [
        key.key.as_str(),
        key.secret(),
        new.key.as_str(),
        new.secret(),
        wrong.as_str(),
        ADMIN_KEY,
        GEMINI_KEY,
    ];
    for line in lines.iter().chain(&emf) {
        for secret in forbidden {
            assert!(!line.contains(secret), "a secret leaked into: {line}");
        }
    }

    // The prompt is never logged at info or above (its length is).
    for (line, record) in lines.iter().zip(&records) {
        let level = record["level"].as_str().unwrap();
        if matches!(level, "INFO" | "WARN" | "ERROR") {
            assert!(
                !line.contains("zebra number 7431"),
                "prompt text at {level}: {line}"
            );
        }
    }
    for line in &emf {
        assert!(!line.contains("zebra"));
    }
    let admitted = records
        .iter()
        .find(|r| r["fields"]["message"] == "job admitted")
        .expect("a job admitted line");
    assert_eq!(admitted["fields"]["prompt_chars"], PROMPT.chars().count());

    // The access log line of the image request: request id, route, status, latency, tenant.
    let access = records
        .iter()
        .find(|r| {
            r["fields"]["message"] == "request" && r["span"]["request_id"] == request_id.as_str()
        })
        .expect("an access log line for the image request");
    let fields = &access["fields"];
    assert_eq!(fields["route"], "/v1/images");
    assert_eq!(fields["method"], "POST");
    assert_eq!(fields["status"], 202);
    assert!(fields["latency_ms"].as_f64().unwrap() >= 0.0);
    assert_eq!(fields["tenant"], "acme");
    assert_eq!(fields["job_id"], job_id);
    assert_eq!(access["level"], "INFO");
    // Every request got exactly one access line, each with the fields.
    let access_lines: Vec<&Value> = records
        .iter()
        .filter(|r| r["fields"]["message"] == "request")
        .collect();
    for r in &access_lines {
        for field in ["route", "status", "latency_ms", "tenant", "method"] {
            assert!(!r["fields"][field].is_null(), "{field} missing: {r}");
        }
        assert!(r["span"]["request_id"].is_string(), "{r}");
    }
    // An unauthenticated request's tenant is "-", never a key.
    assert!(
        access_lines
            .iter()
            .any(|r| r["fields"]["status"] == 401 && r["fields"]["tenant"] == "-")
    );
    // Worker lines name the job.
    assert!(
        records
            .iter()
            .any(|r| r["fields"]["message"] == "job finished"
                && r["fields"]["status"] == "succeeded"
                && r["fields"]["job_id"] == job_id.as_str())
    );
    // The key refresh happened and said so without the key.
    assert!(records.iter().any(|r| {
        r["fields"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("refreshing"))
    }));

    // EMF: request counts per route and the remaining global budget.
    let metrics: Vec<Value> = emf
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let named = |name: &str| {
        metrics
            .iter()
            .filter(|m| {
                m["_aws"]["CloudWatchMetrics"][0]["Metrics"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|d| d["Name"] == name)
            })
            .count()
    };
    assert!(named("Requests") >= access_lines.len());
    assert_eq!(named("QuotaRemaining"), 2);
    assert!(named("ImagesGenerated") >= 2);
    assert!(named("GeminiRequests") >= 2);
    assert!(
        metrics
            .iter()
            .any(|m| m["Route"] == "/v1/images" && m["StatusClass"] == "2xx")
    );
    assert!(metrics.iter().all(|m| m["Environment"] == "test"));
}
