//! The bodies of the service's fuzz targets, shared with the stable replay test
//! (`lambda/tests/fuzz_corpus.rs` includes this file with `#[path]`).
//!
//! Each input runs against a fresh `App` on the embedded adapters (memory store, local blobs,
//! local queue, manual clock), so a finding replays the same way on its own. The constants
//! match the seeds fuzz/seeds/make_seeds.py writes.

use std::net::SocketAddr;
use std::sync::Arc;

use aws_lambda_events::sqs::{SqsEvent, SqsMessage};
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, HeaderValue, Method, Request, StatusCode, Uri, header};
use http_body_util::BodyExt;
use imagegen::App;
use imagegen::blobs::BlobStore;
use imagegen::blobs::local::{Grant, SignatureError};
use imagegen::blobs::local::{LocalBlobs, UrlSigner};
use imagegen::config::Config;
use imagegen::domain::ManualClock;
use imagegen::domain::ids::JobId;
use imagegen::domain::keys::{self, ApiKey, KeyLimits, Scope, sha256_hex};
use imagegen::domain::limits::DefaultLimits;
use imagegen::gemini::offline::OfflineGenerator;
use imagegen::queue::local::Delivery;
use imagegen::queue::local::LocalQueue;
use imagegen::store::Store;
use imagegen::store::memory::MemoryStore;
use imagegen::telemetry::Metrics;
use imagegen::usecases::generation::{StepOutcome, Worker};
use imagegen::worker::{self, JobMessage};
use serde_json::Value;
use time::OffsetDateTime;
use tokio::sync::mpsc::UnboundedReceiver;
use tower::ServiceExt;

/// The bootstrap admin credential (its SHA-256 is in the config).
pub const ADMIN_KEY: &str = "igadmin_FuzzAdminKey0123456789abcdefghijklmnopqrstuv";
/// The one stored API key: `igk_<KEY_ID>_<KEY_SECRET>`, tenant `acme`.
pub const KEY_ID: &str = "0123456789ab";
pub const KEY_SECRET: &str = "FuzzSecret0123456789abcdefghijklmnopqrst";
const SIGNER_KEY: [u8; 32] = [7; 32];
/// The one stored blob, and the upload key the PUT seed is signed for.
pub const BLOB_KEY: &str = "generated/acme/job_0123456789abcdef0123456789abcdef/1.png";
pub const UPLOAD_KEY: &str = "uploads/acme/upl_0123456789abcdef0123456789abcdef";
const BLOB_BYTES: &[u8] = b"\x89PNG stored by the fuzz harness";
/// What a signed PUT sends: the seed is signed for image/png, 4 bytes.
const PUT_BYTES: &[u8] = b"\x89PNG";
/// 2026-11-26T10:00:00Z, where the clock stands.
const NOW_UNIX: i64 = 1_795_687_200;

fn now() -> OffsetDateTime {
    match OffsetDateTime::from_unix_timestamp(NOW_UNIX) {
        Ok(t) => t,
        Err(e) => panic!("{e}"),
    }
}

/// A fresh service: what the dev server runs, minus the network.
struct Service {
    rt: tokio::runtime::Runtime,
    app: App,
    router: Router,
    blobs: Arc<LocalBlobs>,
    deliveries: UnboundedReceiver<Delivery>,
    /// Kept, so the webhook queue takes what a route sends (a redelivery) as the dev server's
    /// does; nothing drains it.
    _webhook_deliveries: UnboundedReceiver<imagegen::queue::local::WebhookDelivery>,
    /// Removed with the service.
    _dir: tempfile::TempDir,
}

impl Service {
    fn new() -> Self {
        let rt = match tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
        {
            Ok(rt) => rt,
            Err(e) => panic!("tokio runtime: {e}"),
        };
        // A directory per service (replay tests run in parallel), removed with it: uploads and
        // reference images land here.
        let dir = match tempfile::TempDir::with_prefix("imagegen-fuzz-") {
            Ok(dir) => dir,
            Err(e) => panic!("no temporary directory for the service: {e}"),
        };
        let blobs = Arc::new(LocalBlobs::new(
            dir.path(),
            "http://blobs.fuzz",
            UrlSigner::new(SIGNER_KEY),
        ));
        let (queue, deliveries) = LocalQueue::channel();
        let (webhooks, webhook_deliveries) = imagegen::queue::local::LocalWebhookQueue::channel();
        let (metrics, _) = Metrics::memory("Imagegen", "fuzz");
        let store = Arc::new(MemoryStore::new());
        let config = Config {
            // Never the limit under test: every input is one request on a fresh app.
            limits: DefaultLimits {
                rate_per_minute: 1_000_000,
                burst: 1_000_000,
                daily_quota: 1_000_000,
                monthly_quota: 1_000_000,
                ip_rate_per_minute: 1_000_000,
                global_rate_per_minute: 1_000_000,
                global_daily_images: 1_000_000,
            },
            admin_key_sha256: Some(sha256_hex(ADMIN_KEY)),
            ..Config::default()
        };
        let app = App {
            store: store.clone(),
            blobs: blobs.clone(),
            queue: Arc::new(queue),
            webhooks: Arc::new(webhooks),
            clock: Arc::new(ManualClock::new(now())),
            config: Arc::new(config),
            metrics,
            gateway: None,
        };
        let key = ApiKey {
            key_id: KEY_ID.into(),
            tenant: "acme".into(),
            scopes: Scope::ALL.to_vec(),
            secret_sha256: sha256_hex(KEY_SECRET),
            previous: None,
            limits: KeyLimits::default(),
            created_at: now(),
            expires_at: None,
            revoked_at: None,
            version: 1,
            webhook: None,
        };
        let seeded = rt.block_on(async {
            store.create_key(&key).await.map_err(|e| e.to_string())?;
            blobs
                .put(BLOB_KEY, "image/png", BLOB_BYTES.to_vec())
                .await
                .map_err(|e| e.to_string())
        });
        if let Err(e) = seeded {
            panic!("seeding the fuzz app: {e}");
        }
        let router = imagegen::http::dev::router(app.clone(), blobs.clone());
        Self {
            rt,
            app,
            router,
            blobs,
            deliveries,
            _webhook_deliveries: webhook_deliveries,
            _dir: dir,
        }
    }

    /// One request through the whole router; checks what holds for every response.
    fn call(&self, mut request: Request<Body>) -> (StatusCode, HeaderMap, Bytes) {
        request
            .extensions_mut()
            .insert(ConnectInfo(SocketAddr::from(([203, 0, 113, 7], 40_000))));
        let (parts, bytes) = self.rt.block_on(async {
            let response = match self.router.clone().oneshot(request).await {
                Ok(response) => response,
                Err(e) => match e {},
            };
            let (parts, body) = response.into_parts();
            match body.collect().await {
                Ok(body) => (parts, body.to_bytes()),
                Err(e) => panic!("response body: {e}"),
            }
        });
        let shown = String::from_utf8_lossy(&bytes);
        // A panic in a handler is caught and answered 500: a finding like any other.
        assert!(
            !parts.status.is_server_error(),
            "{} from the service: {shown}",
            parts.status
        );
        if parts.status.is_client_error() {
            let json: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            let error = &json["error"];
            assert!(
                error["code"].is_string() && error["message"].is_string(),
                "{} without the error envelope: {shown}",
                parts.status
            );
            assert_eq!(
                parts.headers.get(header::CONTENT_TYPE),
                Some(&HeaderValue::from_static("application/json")),
                "error bodies are JSON"
            );
        }
        (parts.status, parts.headers, bytes)
    }

    /// Runs the worker on what the API enqueued, as the queue would deliver it.
    fn run_worker(&mut self) {
        let worker = Worker::new(self.app.clone(), Arc::new(OfflineGenerator), 3);
        while let Ok(delivery) = self.deliveries.try_recv() {
            let outcome = self.rt.block_on(worker.process(&delivery.message, 1));
            match outcome {
                Ok(StepOutcome::Succeeded | StepOutcome::Failed) => {}
                other => panic!("a fresh job was not run: {other:?}"),
            }
        }
    }
}

fn request(method: Method, uri: Uri, body: &[u8]) -> Request<Body> {
    let mut request = Request::new(Body::from(body.to_vec()));
    *request.method_mut() = method;
    *request.uri_mut() = uri;
    request
}

/// The JSON request bodies of the API, through the real router as the bootstrap admin. The
/// first byte picks the route: `i` POST /v1/images, `u` POST /v1/uploads, `k` POST
/// /v1/admin/keys, `j` GET /v1/jobs with the rest as query string; the rest is the body.
pub fn api_json(data: &[u8]) {
    let Some((&route, rest)) = data.split_first() else {
        return;
    };
    let route = match route {
        b'i' | b'u' | b'k' | b'j' => route,
        other => [b'i', b'u', b'k', b'j'][usize::from(other % 4)],
    };
    let (mut request, path) = match route {
        b'j' => {
            let Ok(query) = std::str::from_utf8(rest) else {
                return;
            };
            let Ok(uri) = Uri::try_from(format!("/v1/jobs?{query}")) else {
                return;
            };
            (request(Method::GET, uri, b""), "/v1/jobs")
        }
        _ => {
            let path = match route {
                b'i' => "/v1/images",
                b'u' => "/v1/uploads",
                _ => "/v1/admin/keys",
            };
            (request(Method::POST, Uri::from_static(path), rest), path)
        }
    };
    let headers = request.headers_mut();
    headers.insert("x-api-key", HeaderValue::from_static(ADMIN_KEY));
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    let mut service = Service::new();
    let (status, _, bytes) = service.call(request);
    let json: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    if route != b'j' && serde_json::from_slice::<Value>(rest).is_err() {
        // Not JSON at all (empty included): a 400 about the body, whatever the issue code.
        assert_eq!(
            status,
            StatusCode::BAD_REQUEST,
            "{path} took malformed JSON"
        );
        assert_eq!(
            json["error"]["details"][0]["field"], "body",
            "{path}: {json}"
        );
    }
    if status.is_success() {
        match path {
            "/v1/images" => {
                let id = json["job_id"].as_str().unwrap_or_default();
                assert!(JobId::parse(id).is_some(), "202 without a job id: {json}");
                service.run_worker();
            }
            "/v1/uploads" => assert!(json["url"].is_string(), "no upload URL: {json}"),
            "/v1/admin/keys" => {
                // The key is shown once; it must be one the service will accept.
                let key = json["key"].as_str().unwrap_or_default();
                let parsed = keys::parse_presented(key);
                assert_eq!(
                    parsed.map(|(id, _)| id),
                    json["key_id"].as_str(),
                    "issued key {key:?} does not parse"
                );
            }
            _ => assert!(json["jobs"].is_array(), "no job list: {json}"),
        }
    }
}

/// API-key parsing and the `x-api-key` path of every protected route. Returns whether the
/// key was accepted (only the stored key and the admin credential may be).
pub fn api_key(data: &[u8]) -> bool {
    if let Ok(text) = std::str::from_utf8(data)
        && let Some((key_id, secret)) = keys::parse_presented(text)
    {
        // A parsed key re-serializes to the same string: no part was dropped or normalised.
        assert_eq!(
            format!("{}{key_id}_{secret}", keys::KEY_PREFIX),
            text,
            "parse_presented lost part of the key"
        );
        assert!(keys::valid_key_id(key_id), "{key_id:?}");
        assert!(
            secret.bytes().all(|b| b.is_ascii_alphanumeric()),
            "{secret:?}"
        );
    }
    let Ok(value) = HeaderValue::from_bytes(data) else {
        return false;
    };
    let mut headers = HeaderMap::new();
    headers.insert("x-api-key", value);
    let service = Service::new();
    let result = service
        .rt
        .block_on(imagegen::http::auth::authenticate(&service.app, &headers));
    let valid = format!("igk_{KEY_ID}_{KEY_SECRET}");
    match result {
        Ok(caller) => {
            let expected = if data == valid.as_bytes() {
                Some(KEY_ID)
            } else {
                assert_eq!(data, ADMIN_KEY.as_bytes(), "accepted a key never issued");
                None
            };
            assert_eq!(caller.key_id.as_deref(), expected);
            true
        }
        Err(e) => {
            assert_eq!(e.code.status(), StatusCode::UNAUTHORIZED, "{e:?}");
            assert!(
                data != valid.as_bytes() && data != ADMIN_KEY.as_bytes(),
                "refused a valid key: {e:?}"
            );
            false
        }
    }
}

/// The dev server's signed blob URLs (S3's presigned URLs when deployed), through the router,
/// and the signer itself. The first byte picks the method (`P` PUT, else GET), the rest is the
/// path and query after `/blobs/`. Returns whether the URL was honoured.
pub fn signed_url(data: &[u8]) -> bool {
    let Some((&m, rest)) = data.split_first() else {
        return false;
    };
    let method = if m == b'P' { Method::PUT } else { Method::GET };
    let Ok(rest) = std::str::from_utf8(rest) else {
        return false;
    };
    let (raw_path, raw_query) = rest.split_once('?').unwrap_or((rest, ""));
    let query = query_pairs(raw_query);
    let key = percent_decode(raw_path);
    let expires = first(&query, "expires").and_then(|e| e.parse::<i64>().ok());
    if let Some(key) = &key {
        check_signer(method.as_str(), key, expires.unwrap_or(NOW_UNIX + 1));
    }

    let Ok(uri) = Uri::try_from(format!("/blobs/{rest}")) else {
        return false;
    };
    let mut request = request(method.clone(), uri, PUT_BYTES);
    request
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("image/png"));
    let service = Service::new();
    let (status, _, bytes) = service.call(request);
    if !status.is_success() {
        return false;
    }
    // Honoured: then it is exactly a URL we signed, for exactly the key it names.
    let key = key.unwrap_or_default();
    let (signed_key, upload) = match method {
        Method::PUT => (UPLOAD_KEY, Some(("image/png", PUT_BYTES.len() as u64))),
        _ => (BLOB_KEY, None),
    };
    assert_eq!(key, signed_key, "{method} honoured for another key");
    let signer = service.blobs.signer();
    let expires = expires.unwrap_or_else(|| panic!("honoured without an expiry: {rest}"));
    assert!(expires > NOW_UNIX, "honoured an expired URL: {rest}");
    let grant = Grant {
        method: method.as_str(),
        key: signed_key,
        expires,
        upload: upload.map(
            |(content_type, content_length)| imagegen::blobs::UploadBounds {
                content_type,
                content_length,
            },
        ),
    };
    assert_eq!(
        first(&query, "sig"),
        Some(signer.sign(&grant).as_str()),
        "honoured a signature we never made: {rest}"
    );
    if method == Method::GET {
        assert_eq!(&bytes[..], BLOB_BYTES, "served other bytes");
    }
    true
}

/// A signature verifies for exactly the grant it was made for, until it expires.
fn check_signer(method: &str, key: &str, expires: i64) {
    let signer = UrlSigner::new(SIGNER_KEY);
    let grant = Grant {
        method,
        key,
        expires,
        upload: None,
    };
    let sig = signer.sign(&grant);
    let at = |unix| OffsetDateTime::from_unix_timestamp(unix).ok();
    if let Some(before) = at(expires.saturating_sub(1)) {
        assert_eq!(signer.verify(&grant, &sig, before), Ok(()), "{grant:?}");
    }
    if let Some(after) = at(expires) {
        assert_eq!(
            signer.verify(&grant, &sig, after),
            Err(SignatureError::Expired),
            "{grant:?}"
        );
    }
    let verify_at = at(expires.saturating_sub(1)).unwrap_or_else(now);
    let other_key = format!("{key}x");
    let other_method = if method == "GET" { "PUT" } else { "GET" };
    for other in [
        Grant {
            key: &other_key,
            ..grant
        },
        Grant {
            method: other_method,
            ..grant
        },
        Grant {
            expires: expires.wrapping_add(1),
            ..grant
        },
        Grant {
            upload: Some(imagegen::blobs::UploadBounds {
                content_type: "",
                content_length: 0,
            }),
            ..grant
        },
    ] {
        assert_eq!(
            signer.verify(&other, &sig, verify_at),
            Err(SignatureError::Invalid),
            "a signature for {grant:?} verified {other:?}"
        );
    }
}

fn query_pairs(raw: &str) -> Vec<(String, String)> {
    raw.split('&')
        .filter(|p| !p.is_empty())
        .filter_map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let plus = |s: &str| s.replace('+', " ");
            Some((percent_decode(&plus(k))?, percent_decode(&plus(v))?))
        })
        .collect()
}

fn first<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// `%XX` decoding as axum applies it to paths and query strings; `None` if not UTF-8.
fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (bytes[i], bytes.get(i + 1), bytes.get(i + 2)) {
            (b'%', Some(&h), Some(&l)) if hex(h).is_some() && hex(l).is_some() => {
                out.push(((hex(h)? << 4) | hex(l)?) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// The SQS message body the worker decodes (and, when the input is a whole SQS event, the
/// batch handler's report), then the worker's step on the decoded message.
pub fn sqs_message(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut message = SqsMessage::default();
    message.message_id = Some("m".into());
    message.body = Some(text.to_owned());
    if let Ok(decoded) = worker::decode::<worker::JobMessage>(&message) {
        assert!(JobId::parse(decoded.job_id.as_str()).is_some());
        let again = match serde_json::to_string(&decoded) {
            Ok(json) => serde_json::from_str::<JobMessage>(&json).ok(),
            Err(_) => None,
        };
        assert_eq!(
            again.as_ref(),
            Some(&decoded),
            "a job message does not round-trip"
        );
        // No such job on a fresh app: the delivery is dropped, not retried for ever.
        let service = Service::new();
        let worker = Worker::new(service.app.clone(), Arc::new(OfflineGenerator), 3);
        let outcome = service.rt.block_on(worker.process(&decoded, 1));
        assert!(
            matches!(outcome, Ok(StepOutcome::Skipped)),
            "a message for an unknown job: {outcome:?}"
        );
    }
    if let Ok(event) = serde_json::from_str::<SqsEvent>(text) {
        // Exactly the messages that do not decode go to the dead-letter queue, in order; none
        // is reported back for retry (every step here succeeds).
        let expected: Vec<String> = event
            .records
            .iter()
            .filter(|m| worker::decode::<JobMessage>(m).is_err())
            .map(|m| m.body.clone().unwrap_or_default())
            .collect();
        let rt = match tokio::runtime::Builder::new_current_thread().build() {
            Ok(rt) => rt,
            Err(e) => panic!("tokio runtime: {e}"),
        };
        let control = imagegen::queue::recorded::RecordedControl::default();
        let response = rt.block_on(worker::handle_batch(
            event,
            &control,
            |_: JobMessage, _| async {
                Ok::<_, imagegen::usecases::generation::StepError>(StepOutcome::Succeeded)
            },
        ));
        assert!(
            response.batch_item_failures.is_empty(),
            "batch failures: {:?}",
            response.batch_item_failures
        );
        let dead: Vec<String> = control
            .dead_letters()
            .into_iter()
            .map(|(body, _)| body)
            .collect();
        assert_eq!(dead, expected, "dead letters");
    }
}
