//! The service on embedded adapters behind the real router, and what a test does with it.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::http::{Method, StatusCode};
use imagegen::App;
use imagegen::blobs::local::{LocalBlobs, UrlSigner};
use imagegen::config::Config;
use imagegen::domain::ManualClock;
use imagegen::domain::ids::{JobId, random_bytes};
use imagegen::domain::jobs::Job;
use imagegen::domain::keys::sha256_hex;
use imagegen::domain::limits::DefaultLimits;
use imagegen::gemini::ImageGenerator;
use imagegen::gemini::offline::OfflineGenerator;
use imagegen::queue::local::{Delivery, LocalQueue, LocalWebhookQueue, WebhookDelivery};
use imagegen::queue::{QueueError, WebhookMessage, WebhookQueue};
use imagegen::store::memory::MemoryStore;
use imagegen::store::{Store, StoreError};
use imagegen::telemetry::Metrics;
use imagegen::usecases::generation::{StepError, StepOutcome, Worker};
use serde_json::{Value, json};
use tokio::sync::mpsc::UnboundedReceiver;

use super::*;

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

/// The webhook queue as the app sees it: the harness's local one, refusing every send while
/// `refusing` is set (an SQS outage).
struct RefusableWebhooks {
    inner: LocalWebhookQueue,
    refusing: Arc<AtomicBool>,
}

#[async_trait::async_trait]
impl WebhookQueue for RefusableWebhooks {
    async fn send(&self, message: &WebhookMessage, delay: Duration) -> Result<(), QueueError> {
        if self.refusing.load(Ordering::SeqCst) {
            return Err(QueueError::Unavailable("SQS is down (test)".into()));
        }
        self.inner.send(message, delay).await
    }

    async fn dead_letter(&self, message: &WebhookMessage, reason: &str) -> Result<(), QueueError> {
        self.inner.dead_letter(message, reason).await
    }
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
        let (webhooks, webhook_rx) = LocalWebhookQueue::channel();
        let webhooks_refusing = Arc::new(AtomicBool::new(false));
        let (metrics, metric_lines) = Metrics::memory("Imagegen", "test");
        let app = App {
            store,
            blobs: blobs.clone(),
            queue: Arc::new(queue.clone()),
            webhooks: Arc::new(RefusableWebhooks {
                inner: webhooks.clone(),
                refusing: webhooks_refusing.clone(),
            }),
            clock: clock.clone(),
            config: Arc::new(self.config),
            metrics,
            gateway: None,
        };
        // Priced as the default model is deployed.
        let worker = Arc::new(
            Worker::new(app.clone(), self.generator.clone(), self.image_attempts)
                .with_price(Some(imagegen::domain::pricing::DEFAULT_PRICES[0].1)),
        );
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
            webhooks,
            webhooks_refusing,
            webhook_rx: Mutex::new(webhook_rx),
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
    /// The webhook queue: `webhook_deliveries` takes what waits on it.
    pub webhooks: LocalWebhookQueue,
    /// Set: the app's webhook queue refuses every send.
    pub webhooks_refusing: Arc<AtomicBool>,
    webhook_rx: Mutex<UnboundedReceiver<WebhookDelivery>>,
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

    /// Takes every webhook delivery waiting on the local webhook queue (their delays are the
    /// test's to honour, by advancing the clock).
    pub fn webhook_deliveries(&self) -> Vec<WebhookDelivery> {
        let mut rx = self.webhook_rx.lock().unwrap();
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

    /// Whether the blob store holds an object under `key`.
    pub fn blob_exists(&self, key: &str) -> bool {
        self.dir.path().join("blobs").join(key).is_file()
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
