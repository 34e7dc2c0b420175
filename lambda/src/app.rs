//! The composition root: the ports and settings every use case and handler needs.

use std::sync::Arc;

use crate::blobs::BlobStore;
use crate::config::Config;
use crate::domain::Clock;
use crate::gateway::KeyGateway;
use crate::queue::{JobQueue, WebhookQueue};
use crate::store::Store;
use crate::telemetry::Metrics;

/// Cheap to clone: everything inside is shared.
#[derive(Clone)]
pub struct App {
    pub store: Arc<dyn Store>,
    pub blobs: Arc<dyn BlobStore>,
    pub queue: Arc<dyn JobQueue>,
    /// Where jobs' end events go for their webhooks.
    pub webhooks: Arc<dyn WebhookQueue>,
    pub clock: Arc<dyn Clock>,
    pub config: Arc<Config>,
    pub metrics: Metrics,
    /// The API gateway keys must also be registered with (none in the dev server and tests).
    pub gateway: Option<Arc<dyn KeyGateway>>,
}
