//! Composition for the dev server (`bin/dev.rs`): the embedded adapters — in-memory store, blobs
//! in a data folder behind HMAC-signed URLs, an in-process queue and worker, an in-process
//! webhook queue and sender (which may call receivers on loopback) — configured through
//! the same [`Config::from_vars`] and [`config::gemini_config`] the Lambdas use, so a setting
//! means the same thing here as deployed. Only the Gemini key differs: `GEMINI_API_KEY` instead
//! of Secrets Manager (without it, the offline generator).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crate::App;
use crate::blobs::local::{LocalBlobs, UrlSigner};
use crate::config::{self, Config, ConfigError, Vars};
use crate::domain::SystemClock;
use crate::domain::ids::{random_base62, random_bytes};
use crate::domain::keys::sha256_hex;
use crate::gemini::client::GeminiClient;
use crate::gemini::offline::OfflineGenerator;
use crate::gemini::{GeminiConfig, ImageGenerator};
use crate::queue::local::{Delivery, LocalQueue, LocalWebhookQueue, WebhookDelivery};
use crate::secrets::{CachedSecret, SecretString, StaticSecret};
use crate::store::memory::MemoryStore;
use crate::telemetry::Metrics;
use crate::usecases::generation::Worker;
use crate::usecases::webhooks::Sender;
use crate::webhooks::http::{self as webhook_http, Destinations, HttpWebhookClient};

/// How long a failed delivery waits before the in-process queue hands it out again (SQS waits
/// for the visibility timeout; minutes are too long to watch locally).
const RETRY_DELAY: Duration = Duration::from_secs(2);
/// How often the in-process janitor ends jobs past their deadline.
const SWEEP_EVERY: Duration = Duration::from_secs(60);

/// The admin credential the dev server accepts.
pub enum AdminKey {
    /// `IMAGEGEN_ADMIN_KEY`, as given.
    Given,
    /// Made up at start-up; print it.
    Generated(String),
}

/// Everything the dev server serves, built but not yet running.
pub struct DevServer {
    pub app: App,
    pub blobs: Arc<LocalBlobs>,
    pub generator: Arc<dyn ImageGenerator>,
    /// The model settings in use; `None` with the offline generator.
    pub gemini: Option<GeminiConfig>,
    pub admin_key: AdminKey,
    /// Model calls one image may cost (`IMAGEGEN_GEMINI_MAX_ATTEMPTS`, as the worker reads it).
    pub image_attempts: u32,
    /// The price of the configured model's tokens (the offline generator's are zero).
    pub price: Option<crate::domain::pricing::ModelPrice>,
    queue: LocalQueue,
    deliveries: tokio::sync::mpsc::UnboundedReceiver<Delivery>,
    webhooks: LocalWebhookQueue,
    webhook_deliveries: tokio::sync::mpsc::UnboundedReceiver<WebhookDelivery>,
    webhook_client: HttpWebhookClient,
}

impl DevServer {
    /// Reads every setting through `vars` (the process environment in `bin/dev.rs`).
    pub fn compose<F: Fn(&str) -> Option<String>>(
        vars: &Vars<F>,
        data_dir: &Path,
        base_url: &str,
    ) -> Result<Self, ConfigError> {
        let mut config = Config::from_vars(vars)?;
        // Receivers on this machine (`http://127.0.0.1:…`) are what one tries webhooks with.
        config.webhooks_to_loopback = true;
        let (admin, admin_key) = match vars.optional("IMAGEGEN_ADMIN_KEY") {
            Some(key) if key.len() >= 32 && key.chars().all(|c| c.is_ascii_graphic()) => {
                (key, AdminKey::Given)
            }
            Some(_) => {
                return Err(ConfigError {
                    var: "IMAGEGEN_ADMIN_KEY",
                    problem: "must be 32 or more printable ASCII characters (no spaces)".into(),
                });
            }
            None => {
                let key = format!("igadmin_{}", random_base62(40));
                (key.clone(), AdminKey::Generated(key))
            }
        };
        config.admin_key_sha256 = Some(sha256_hex(&admin));

        let gemini_config = config::gemini_config(vars)?;
        config.check_gemini_fits(&gemini_config)?;
        let price = config::model_price(vars, &gemini_config.model)?;
        let image_attempts = gemini_config.max_attempts;
        let (generator, gemini): (Arc<dyn ImageGenerator>, _) =
            match vars.optional("GEMINI_API_KEY") {
                None => (Arc::new(OfflineGenerator), None),
                Some(key) => {
                    let gemini = gemini_config;
                    let source = StaticSecret::new(SecretString::from(key));
                    let secret = Arc::new(CachedSecret::new(Arc::new(source)));
                    let client =
                        GeminiClient::new(gemini.clone(), secret).map_err(|e| ConfigError {
                            var: "IMAGEGEN_GEMINI_MODEL",
                            problem: e.to_string(),
                        })?;
                    (Arc::new(client), Some(gemini))
                }
            };

        let blobs = Arc::new(LocalBlobs::new(
            data_dir.join("blobs"),
            base_url,
            UrlSigner::new(random_bytes::<32>()),
        ));
        let (queue, deliveries) = LocalQueue::channel();
        let (webhooks, webhook_deliveries) = LocalWebhookQueue::channel();
        let webhook_client =
            HttpWebhookClient::new(Destinations::PublicAndLoopback, webhook_http::TIMEOUT)
                .map_err(|e| ConfigError {
                    // The OS trust store, which the client's TLS reads, is what failed.
                    var: "SSL_CERT_FILE",
                    problem: format!("webhook client: {e}"),
                })?;
        let metrics = match vars.optional("IMAGEGEN_DEV_METRICS").as_deref() {
            Some("stdout") => Metrics::stdout(&config.metrics_namespace, &config.environment),
            _ => Metrics::off(),
        };
        let app = App {
            store: Arc::new(MemoryStore::new()),
            blobs: blobs.clone(),
            queue: Arc::new(queue.clone()),
            webhooks: Arc::new(webhooks.clone()),
            clock: Arc::new(SystemClock),
            config: Arc::new(config),
            metrics,
            gateway: None,
        };
        Ok(Self {
            app,
            blobs,
            generator,
            gemini,
            admin_key,
            image_attempts,
            price,
            queue,
            deliveries,
            webhooks,
            webhook_deliveries,
            webhook_client,
        })
    }

    /// Starts the in-process worker (on the current Tokio runtime) and returns the router.
    pub fn start(self) -> axum::Router {
        let worker = Arc::new(
            Worker::new(self.app.clone(), self.generator, self.image_attempts)
                .with_price(self.price),
        );
        crate::worker::local::spawn(
            worker,
            self.queue,
            self.deliveries,
            RETRY_DELAY,
            SWEEP_EVERY,
        );
        let sender = Sender::new(self.app.clone(), Arc::new(self.webhook_client));
        crate::worker::local::spawn_webhooks(
            Arc::new(sender),
            self.webhooks,
            self.webhook_deliveries,
            RETRY_DELAY,
        );
        crate::http::dev::router(self.app, self.blobs)
    }
}
