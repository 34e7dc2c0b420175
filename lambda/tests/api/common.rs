//! The harness: an `App` on the embedded adapters (memory store, blobs in a temp dir, local
//! queue, manual clock, in-memory metrics) behind the real router, plus helpers that speak HTTP
//! to it the way a client would.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, Request, StatusCode};
use http_body_util::BodyExt;
use imagegen::App;
use imagegen::blobs::local::{LocalBlobs, UrlSigner};
use imagegen::config::Config;
use imagegen::domain::ManualClock;
use imagegen::domain::ids::{JobId, random_bytes};
use imagegen::domain::jobs::{Expected, Job};
use imagegen::domain::keys::{ApiKey, sha256_hex};
use imagegen::domain::limits::{CounterAdd, DefaultLimits};
use imagegen::gemini::offline::OfflineGenerator;
use imagegen::gemini::{CallBudget, GenerateError, ImageAttempt, ImageGenerator, ImageRequest};
use imagegen::queue::local::Delivery;
use imagegen::queue::local::LocalQueue;
use imagegen::store::memory::MemoryStore;
use imagegen::store::{IdempotencyRecord, JobCursor, KeyCursor, Reservation, Store, StoreError};
use imagegen::telemetry::Metrics;
use imagegen::worker::{StepError, StepOutcome, Worker};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::macros::datetime;
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::sync::{Notify, Semaphore};
use tower::ServiceExt;

/// Tests read the memory store directly.
pub use imagegen::store::Store as _;

/// Where every harness's clock starts: mid-morning, so no window rolls over by accident.
pub const START: OffsetDateTime = datetime!(2026-11-26 10:00:00 UTC);
/// The bootstrap admin credential (its SHA-256 goes into the config).
pub const ADMIN_KEY: &str = "igadmin_TestAdminKey0123456789abcdefghijklmnopqrstuv";
/// Base of the local blob store's signed URLs; `fetch`/`put_url` strip it.
pub const BLOB_BASE: &str = "http://blobs.test";
/// Every request comes from here unless it says otherwise.
pub const CLIENT_IP: [u8; 4] = [203, 0, 113, 7];

pub const ALL_SCOPES: &[&str] = &["images:write", "jobs:read", "usage:read"];

/// Limits so high that only tests that lower them ever meet them (the manual clock never
/// leaves its second, so a realistic burst would trip every test).
pub fn generous_limits() -> DefaultLimits {
    DefaultLimits {
        rate_per_minute: 1_000_000,
        burst: 1_000_000,
        daily_quota: 1_000_000,
        monthly_quota: 1_000_000,
        ip_rate_per_minute: 10_000_000,
        global_rate_per_minute: 100_000_000,
        global_daily_images: 1_000_000_000,
    }
}

type StoreWrap = Box<dyn FnOnce(Arc<MemoryStore>) -> Arc<dyn Store>>;

pub struct Builder {
    config: Config,
    generator: Arc<dyn ImageGenerator>,
    image_attempts: u32,
    wrap_store: Option<StoreWrap>,
    background: bool,
}

impl Builder {
    pub fn config(mut self, f: impl FnOnce(&mut Config)) -> Self {
        f(&mut self.config);
        self
    }

    pub fn generator(mut self, generator: Arc<dyn ImageGenerator>) -> Self {
        self.generator = generator;
        self
    }

    /// Model calls one image may cost over every delivery (default 3, the deployed default).
    pub fn image_attempts(mut self, attempts: u32) -> Self {
        self.image_attempts = attempts;
        self
    }

    /// Puts a wrapper (fault injection) between the app and the memory store.
    pub fn store(
        mut self,
        wrap: impl FnOnce(Arc<MemoryStore>) -> Arc<dyn Store> + 'static,
    ) -> Self {
        self.wrap_store = Some(Box::new(wrap));
        self
    }

    /// Runs the dev server's in-process worker instead of leaving deliveries to `run_worker`.
    pub fn background_worker(mut self) -> Self {
        self.background = true;
        self
    }

    pub fn build(self) -> Harness {
        let dir = tempfile::TempDir::with_prefix("imagegen-api-tests-").unwrap();
        let clock = Arc::new(ManualClock::new(START));
        let memory = Arc::new(MemoryStore::new());
        let store: Arc<dyn Store> = match self.wrap_store {
            Some(wrap) => wrap(memory.clone()),
            None => memory.clone(),
        };
        let blobs = Arc::new(LocalBlobs::new(
            dir.path().join("blobs"),
            BLOB_BASE,
            UrlSigner::new(random_bytes::<32>()),
        ));
        let (queue, rx) = LocalQueue::channel();
        let (metrics, metric_lines) = Metrics::memory("Imagegen", "test");
        let app = App {
            store,
            blobs: blobs.clone(),
            queue: Arc::new(queue.clone()),
            clock: clock.clone(),
            config: Arc::new(self.config),
            metrics,
            gateway: None,
        };
        let worker = Arc::new(Worker::new(
            app.clone(),
            self.generator.clone(),
            self.image_attempts,
        ));
        let rx = if self.background {
            imagegen::worker::local::spawn(
                worker.clone(),
                queue.clone(),
                rx,
                Duration::from_millis(10),
                Duration::from_secs(3600),
            );
            None
        } else {
            Some(rx)
        };
        let router = imagegen::http::dev::router(app.clone(), blobs.clone());
        Harness {
            app,
            router,
            clock,
            memory,
            blobs,
            queue,
            rx: Mutex::new(rx),
            worker,
            metric_lines,
            dir,
        }
    }
}

pub struct Harness {
    pub app: App,
    pub router: Router,
    pub clock: Arc<ManualClock>,
    /// The memory store under any wrapper: tests read the truth from here.
    pub memory: Arc<MemoryStore>,
    pub blobs: Arc<LocalBlobs>,
    pub queue: LocalQueue,
    rx: Mutex<Option<UnboundedReceiver<Delivery>>>,
    pub worker: Arc<Worker>,
    pub metric_lines: Arc<Mutex<Vec<String>>>,
    pub dir: tempfile::TempDir,
}

/// A key as `POST /v1/admin/keys` returned it.
#[derive(Debug, Clone)]
pub struct Key {
    pub key_id: String,
    pub key: String,
    pub body: Value,
}

impl Key {
    /// The `<secret>` of `igk_<key_id>_<secret>`.
    pub fn secret(&self) -> &str {
        self.key.rsplit('_').next().unwrap()
    }
}

impl Harness {
    pub fn builder() -> Builder {
        let config = Config {
            limits: generous_limits(),
            admin_key_sha256: Some(sha256_hex(ADMIN_KEY)),
            ..Config::default()
        };
        Builder {
            config,
            generator: Arc::new(OfflineGenerator),
            image_attempts: 3,
            wrap_store: None,
            background: false,
        }
    }

    pub fn new() -> Self {
        Self::builder().build()
    }

    /// A harness whose store fails `ops` (all when empty) with `make()` once armed.
    pub fn with_faulty_store(
        builder: Builder,
        ops: &[&'static str],
        make: fn() -> StoreError,
    ) -> (Self, Arc<FaultyStore>) {
        let slot = Arc::new(Mutex::new(None));
        let fill = slot.clone();
        let ops = ops.to_vec();
        let h = builder
            .store(move |memory| {
                let store = FaultyStore::new(memory, &ops, make);
                *fill.lock().unwrap() = Some(store.clone());
                store as Arc<dyn Store>
            })
            .build();
        let store = slot.lock().unwrap().take().unwrap();
        (h, store)
    }

    pub fn req(&self, method: &str, path: &str) -> Req {
        Req {
            router: self.router.clone(),
            method: Method::from_bytes(method.as_bytes()).unwrap(),
            path: path.to_owned(),
            headers: Vec::new(),
            body: None,
            ip: Some(SocketAddr::from((CLIENT_IP, 40_000))),
        }
    }

    /// The common case: optional key, optional JSON body.
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        key: Option<&str>,
        body: Option<Value>,
    ) -> Resp {
        let mut req = self.req(method, path);
        if let Some(key) = key {
            req = req.key(key);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        req.send().await
    }

    pub async fn create_key_with(&self, body: Value) -> Key {
        let res = self
            .call("POST", "/v1/admin/keys", Some(ADMIN_KEY), Some(body))
            .await;
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.json);
        Key {
            key_id: res.json["key_id"].as_str().unwrap().to_owned(),
            key: res.json["key"].as_str().unwrap().to_owned(),
            body: res.json,
        }
    }

    pub async fn create_key(&self, tenant: &str, scopes: &[&str]) -> Key {
        self.create_key_with(json!({"tenant": tenant, "scopes": scopes}))
            .await
    }

    pub async fn post_image(&self, key: &Key, body: Value) -> Resp {
        self.call("POST", "/v1/images", Some(&key.key), Some(body))
            .await
    }

    /// Admits a one-image job and returns its id.
    pub async fn submit(&self, key: &Key, prompt: &str) -> String {
        let res = self.post_image(key, json!({"prompt": prompt})).await;
        assert_eq!(res.status, StatusCode::ACCEPTED, "{}", res.json);
        res.json["job_id"].as_str().unwrap().to_owned()
    }

    pub async fn get_job(&self, key: &Key, job_id: &str) -> Resp {
        self.call("GET", &format!("/v1/jobs/{job_id}"), Some(&key.key), None)
            .await
    }

    /// `used` of one window (`minute`, `day`, `month`) of `GET /v1/usage`.
    /// What `GET /v1/usage` says is used: `minute` (requests), `day` or `month` (images
    /// charged), or `refused` (images refused today).
    pub async fn used(&self, key: &Key, window: &str) -> u64 {
        let res = self.call("GET", "/v1/usage", Some(&key.key), None).await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.json);
        let (window, measure) = match window {
            "refused" => ("day", "refused"),
            "minute" => ("minute", "requests"),
            other => (other, "images"),
        };
        res.json["windows"]
            .as_array()
            .unwrap()
            .iter()
            .find(|w| w["window"] == window && w["measure"] == measure)
            .unwrap()["used"]
            .as_u64()
            .unwrap()
    }

    /// Takes every delivery waiting on the local queue.
    pub fn deliveries(&self) -> Vec<Delivery> {
        let mut guard = self.rx.lock().unwrap();
        let rx = guard
            .as_mut()
            .expect("this harness runs a background worker");
        let mut out = Vec::new();
        while let Ok(d) = rx.try_recv() {
            out.push(d);
        }
        out
    }

    /// Runs the worker over the queue like SQS would: a failed delivery comes back with its
    /// receive count bumped until it reaches max_receive_count. Returns every outcome, in order.
    pub async fn run_worker(&self) -> Vec<(String, Result<StepOutcome, StepError>)> {
        let max = self.app.config.max_receive_count;
        let mut outcomes = Vec::new();
        loop {
            let batch = self.deliveries();
            if batch.is_empty() {
                return outcomes;
            }
            for delivery in batch {
                let result = self
                    .worker
                    .process(&delivery.message, delivery.receive_count)
                    .await;
                let failed = result.is_err();
                outcomes.push((delivery.message.job_id.to_string(), result));
                if failed && delivery.receive_count < max {
                    self.queue.redeliver(delivery).unwrap();
                }
            }
        }
    }

    /// `GET`s a signed URL through the router (the dev blob route).
    pub async fn fetch(&self, url: &str) -> Resp {
        self.req("GET", strip_base(url)).send().await
    }

    /// `PUT`s bytes to a signed upload URL through the router.
    /// `POST /v1/uploads` declaring `bytes` as `content_type`.
    pub async fn declare_upload(&self, key: &str, bytes: &[u8], content_type: &str) -> Resp {
        self.call(
            "POST",
            "/v1/uploads",
            Some(key),
            Some(upload_of(bytes, content_type)),
        )
        .await
    }

    pub async fn put_url(&self, url: &str, bytes: Vec<u8>, content_type: &str) -> Resp {
        self.req("PUT", strip_base(url))
            .raw(bytes, Some(content_type))
            .send()
            .await
    }

    pub fn advance(&self, by: time::Duration) {
        self.clock.advance(by);
    }

    /// Every EMF record emitted so far, parsed.
    pub fn emf(&self) -> Vec<Value> {
        self.metric_lines
            .lock()
            .unwrap()
            .iter()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// Image files the worker has written (content-type sidecars excluded).
    pub fn generated_files(&self) -> usize {
        count_files(&self.dir.path().join("blobs").join("generated"))
    }

    /// The stored job, straight from the store.
    pub async fn stored_job(&self, job_id: &str) -> Job {
        self.memory
            .get_job(&JobId::parse(job_id).unwrap())
            .await
            .unwrap()
            .unwrap()
    }
}

fn count_files(dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .map(|e| e.unwrap().path())
        .map(|p| {
            if p.is_dir() {
                count_files(&p)
            } else {
                usize::from(!p.to_string_lossy().ends_with(".content-type"))
            }
        })
        .sum()
}

pub fn strip_base(url: &str) -> &str {
    url.strip_prefix(BLOB_BASE)
        .unwrap_or_else(|| panic!("not a local blob URL: {url}"))
}

/// One request, built up and sent through the router with `oneshot`.
pub struct Req {
    router: Router,
    method: Method,
    path: String,
    headers: Vec<(HeaderName, HeaderValue)>,
    body: Option<Vec<u8>>,
    ip: Option<SocketAddr>,
}

impl Req {
    pub fn key(self, key: &str) -> Self {
        self.header_bytes("x-api-key", key.as_bytes())
    }

    pub fn header(self, name: &str, value: &str) -> Self {
        self.header_bytes(name, value.as_bytes())
    }

    pub fn header_bytes(mut self, name: &str, value: &[u8]) -> Self {
        self.headers.push((
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_bytes(value).unwrap(),
        ));
        self
    }

    pub fn json(self, body: &Value) -> Self {
        self.raw(serde_json::to_vec(body).unwrap(), Some("application/json"))
    }

    pub fn raw(mut self, body: Vec<u8>, content_type: Option<&str>) -> Self {
        self.body = Some(body);
        match content_type {
            Some(ct) => self.header("content-type", ct),
            None => self,
        }
    }

    pub fn ip(mut self, ip: [u8; 4]) -> Self {
        self.ip = Some(SocketAddr::from((ip, 40_000)));
        self
    }

    pub async fn send(self) -> Resp {
        let mut builder = Request::builder().method(self.method).uri(&self.path);
        for (name, value) in self.headers {
            builder = builder.header(name, value);
        }
        let mut request = builder
            .body(self.body.map(Body::from).unwrap_or_else(Body::empty))
            .unwrap();
        if let Some(ip) = self.ip {
            request.extensions_mut().insert(ConnectInfo(ip));
        }
        let response = self.router.oneshot(request).await.unwrap();
        let (parts, body) = response.into_parts();
        let bytes = body.collect().await.unwrap().to_bytes();
        let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        let res = Resp {
            status: parts.status,
            headers: parts.headers,
            bytes,
            json,
        };
        res.check_invariants();
        res
    }
}

/// A response as a client sees it.
#[derive(Debug, Clone)]
pub struct Resp {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub bytes: Bytes,
    pub json: Value,
}

impl Resp {
    /// What holds for every response of the service: an `x-request-id`; an error status
    /// always comes as the envelope carrying that same id; never a panic.
    fn check_invariants(&self) {
        let id = self
            .header("x-request-id")
            .unwrap_or_else(|| panic!("no x-request-id on a {} response", self.status));
        assert!(!id.is_empty());
        if self.status.is_client_error() || self.status.is_server_error() {
            let error = &self.json["error"];
            assert!(
                error.is_object(),
                "{} without the error envelope: {:?}",
                self.status,
                String::from_utf8_lossy(&self.bytes)
            );
            assert_eq!(error["request_id"], id, "envelope and header disagree");
            assert!(error["code"].is_string() && error["message"].is_string());
            if let Some(details) = error.get("details") {
                for d in details.as_array().unwrap() {
                    assert!(d["field"].is_string() && d["issue"].is_string(), "{d}");
                }
            }
            assert_eq!(
                self.header("content-type"),
                Some("application/json"),
                "error bodies are JSON"
            );
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }

    pub fn code(&self) -> &str {
        self.json["error"]["code"].as_str().unwrap_or("")
    }

    pub fn details(&self) -> Vec<(String, String)> {
        self.json["error"]["details"]
            .as_array()
            .map(|d| {
                d.iter()
                    .map(|d| {
                        (
                            d["field"].as_str().unwrap().to_owned(),
                            d["issue"].as_str().unwrap().to_owned(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    #[track_caller]
    pub fn assert_status(&self, status: u16) -> &Self {
        assert_eq!(
            self.status.as_u16(),
            status,
            "body: {}",
            String::from_utf8_lossy(&self.bytes)
        );
        self
    }

    #[track_caller]
    pub fn assert_error(&self, status: u16, code: &str) -> &Self {
        self.assert_status(status);
        assert_eq!(self.code(), code, "{}", self.json);
        self
    }

    #[track_caller]
    pub fn assert_detail(&self, field: &str, issue: &str) -> &Self {
        assert!(
            self.details().iter().any(|(f, i)| f == field && i == issue),
            "no detail {field}/{issue} in {}",
            self.json
        );
        self
    }

    /// `RateLimit-Limit/Remaining/Reset` as numbers.
    #[track_caller]
    pub fn rate_headers(&self) -> (u64, u64, u64) {
        let n = |name: &str| -> u64 {
            self.header(name)
                .unwrap_or_else(|| panic!("no {name} header on {}", self.status))
                .parse()
                .unwrap()
        };
        (
            n("ratelimit-limit"),
            n("ratelimit-remaining"),
            n("ratelimit-reset"),
        )
    }

    #[track_caller]
    pub fn retry_after(&self) -> u64 {
        self.header("retry-after")
            .unwrap_or_else(|| panic!("no retry-after on {}", self.status))
            .parse()
            .unwrap()
    }
}

// ---------------------------------------------------------------- test generators

/// What a [`TestGenerator`] does when called.
#[derive(Clone, Copy)]
pub enum Mode {
    /// The offline generator's real PNGs.
    Offline,
    /// Always fails with this error.
    Fail(fn() -> GenerateError),
    /// Offline images for the first `n` images of a job; the others are refused (`no_image`).
    AtMost(u8),
    /// Fails the first `n` calls with this error, then behaves like `Offline`.
    FailTimes(u32, fn() -> GenerateError),
}

/// A generator that records every request and can be held at a gate.
pub struct TestGenerator {
    mode: Mode,
    pub calls: AtomicU32,
    pub requests: Mutex<Vec<ImageRequest>>,
    gate: Option<Gate>,
}

/// Holds calls until released: `entered` is notified when a call arrives.
pub struct Gate {
    pub entered: Notify,
    pub release: Semaphore,
}

impl TestGenerator {
    pub fn new(mode: Mode) -> Arc<Self> {
        Arc::new(Self {
            mode,
            calls: AtomicU32::new(0),
            requests: Mutex::new(Vec::new()),
            gate: None,
        })
    }

    pub fn gated(mode: Mode) -> Arc<Self> {
        Arc::new(Self {
            mode,
            calls: AtomicU32::new(0),
            requests: Mutex::new(Vec::new()),
            gate: Some(Gate {
                entered: Notify::new(),
                release: Semaphore::new(0),
            }),
        })
    }

    pub fn gate(&self) -> &Gate {
        self.gate.as_ref().unwrap()
    }

    pub fn calls(&self) -> u32 {
        self.calls.load(Ordering::SeqCst)
    }
}

/// One call per image asked for (no retries inside): what the worker sees of a model whose
/// calls each end one way.
#[async_trait]
impl ImageGenerator for TestGenerator {
    async fn generate_image(
        &self,
        req: &ImageRequest,
        index: u8,
        budget: CallBudget,
    ) -> ImageAttempt {
        let call = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        self.requests.lock().unwrap().push(req.clone());
        if let Some(gate) = &self.gate {
            gate.entered.notify_one();
            gate.release.acquire().await.unwrap().forget();
        }
        let fail = |e: GenerateError| ImageAttempt::failed(e, 1);
        match self.mode {
            Mode::Fail(make) => fail(make()),
            Mode::FailTimes(n, make) if call <= n => fail(make()),
            Mode::AtMost(n) if index >= n => fail(GenerateError::NoImage {
                finish_reason: "STOP".into(),
            }),
            Mode::Offline | Mode::AtMost(_) | Mode::FailTimes(..) => {
                OfflineGenerator.generate_image(req, index, budget).await
            }
        }
    }

    fn name(&self) -> &'static str {
        "test"
    }
}

// ---------------------------------------------------------------- store fault injection

/// A store that fails chosen operations once armed: `Unavailable` is a dependency outage
/// (502), `Corrupt` a bug (500).
pub struct FaultyStore {
    inner: Arc<MemoryStore>,
    armed: AtomicBool,
    /// Operations that fail; empty means all.
    ops: Vec<&'static str>,
    make: fn() -> StoreError,
}

impl FaultyStore {
    pub fn new(
        inner: Arc<MemoryStore>,
        ops: &[&'static str],
        make: fn() -> StoreError,
    ) -> Arc<Self> {
        Arc::new(Self {
            inner,
            armed: AtomicBool::new(false),
            ops: ops.to_vec(),
            make,
        })
    }

    pub fn arm(&self) {
        self.armed.store(true, Ordering::SeqCst);
    }

    pub fn disarm(&self) {
        self.armed.store(false, Ordering::SeqCst);
    }

    fn check(&self, op: &str) -> Result<(), StoreError> {
        if self.armed.load(Ordering::SeqCst) && (self.ops.is_empty() || self.ops.contains(&op)) {
            return Err((self.make)());
        }
        Ok(())
    }
}

#[async_trait]
impl Store for FaultyStore {
    async fn create_key(&self, key: &ApiKey) -> Result<(), StoreError> {
        self.check("create_key")?;
        self.inner.create_key(key).await
    }
    async fn get_key(&self, key_id: &str) -> Result<Option<ApiKey>, StoreError> {
        self.check("get_key")?;
        self.inner.get_key(key_id).await
    }
    async fn replace_key(&self, key: &ApiKey, expected_version: u64) -> Result<(), StoreError> {
        self.check("replace_key")?;
        self.inner.replace_key(key, expected_version).await
    }
    async fn list_keys(
        &self,
        limit: usize,
        cursor: Option<&KeyCursor>,
    ) -> Result<(Vec<ApiKey>, Option<KeyCursor>), StoreError> {
        self.check("list_keys")?;
        self.inner.list_keys(limit, cursor).await
    }
    async fn reserve(&self, counters: &[CounterAdd]) -> Result<Reservation, StoreError> {
        self.check("reserve")?;
        self.inner.reserve(counters).await
    }
    async fn release(&self, counters: &[CounterAdd]) -> Result<(), StoreError> {
        self.check("release")?;
        self.inner.release(counters).await
    }
    async fn counter_values(&self, pks: &[String]) -> Result<Vec<u64>, StoreError> {
        self.check("counter_values")?;
        self.inner.counter_values(pks).await
    }
    async fn claim_idempotency(
        &self,
        record: &IdempotencyRecord,
    ) -> Result<Option<IdempotencyRecord>, StoreError> {
        self.check("claim_idempotency")?;
        self.inner.claim_idempotency(record).await
    }
    async fn get_idempotency(&self, pk: &str) -> Result<Option<IdempotencyRecord>, StoreError> {
        self.check("get_idempotency")?;
        self.inner.get_idempotency(pk).await
    }
    async fn delete_idempotency(&self, pk: &str) -> Result<(), StoreError> {
        self.check("delete_idempotency")?;
        self.inner.delete_idempotency(pk).await
    }
    async fn create_job(&self, job: &Job) -> Result<(), StoreError> {
        self.check("create_job")?;
        self.inner.create_job(job).await
    }
    async fn get_job(&self, job_id: &JobId) -> Result<Option<Job>, StoreError> {
        self.check("get_job")?;
        self.inner.get_job(job_id).await
    }
    async fn update_job(&self, job: &Job, expected: Expected) -> Result<(), StoreError> {
        self.check("update_job")?;
        self.inner.update_job(job, expected).await
    }
    async fn overdue_jobs(
        &self,
        now: time::OffsetDateTime,
        limit: usize,
    ) -> Result<Vec<JobId>, StoreError> {
        self.check("overdue_jobs")?;
        self.inner.overdue_jobs(now, limit).await
    }
    async fn list_jobs(
        &self,
        tenant: &str,
        limit: usize,
        cursor: Option<&JobCursor>,
    ) -> Result<(Vec<Job>, Option<JobCursor>), StoreError> {
        self.check("list_jobs")?;
        self.inner.list_jobs(tenant, limit, cursor).await
    }
}

// ---------------------------------------------------------------- image fixtures

/// The body of `POST /v1/uploads` declaring `bytes` as `content_type`.
pub fn upload_of(bytes: &[u8], content_type: &str) -> Value {
    serde_json::json!({"content_type": content_type, "content_length": bytes.len()})
}

/// A PNG with some structure (so a re-encode is visibly a re-encode).
pub fn png(width: u32, height: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([(x % 251) as u8, (y % 241) as u8, ((x + y) % 7 * 30) as u8])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

/// A PNG whose header claims `width` x `height` (the pixel data is a 1x1 image's).
pub fn png_claiming(width: u32, height: u32) -> Vec<u8> {
    let mut bytes = png(1, 1);
    // IHDR: 8-byte signature, 4-byte length, "IHDR", then width and height, then the CRC
    // over type + data (17 bytes).
    bytes[16..20].copy_from_slice(&width.to_be_bytes());
    bytes[20..24].copy_from_slice(&height.to_be_bytes());
    let crc = crc32(&bytes[12..29]);
    bytes[29..33].copy_from_slice(&crc.to_be_bytes());
    bytes
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

pub fn jpeg(width: u32, height: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([(x % 200) as u8, (y % 200) as u8, 90])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Jpeg).unwrap();
    out.into_inner()
}

/// A 1x1 GIF: a real image, but not a format the service takes.
pub const GIF: &[u8] = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;";

pub fn b64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}
