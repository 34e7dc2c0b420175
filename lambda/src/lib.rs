//! imagegen: turns prompts (plus optional reference images) into images with Gemini.
//!
//! Ports and adapters; ARCHITECTURE.md at the repository root has the map. `domain` holds the
//! rules and types; `usecases` does the work over the ports (`store`, `blobs`, `queue`,
//! `gateway`, `secrets`, `gemini`, `webhooks`), each with embedded and AWS adapters beneath it; `http` (the
//! one router the `api` Lambda and the dev server serve) and `worker` drive the use cases;
//! `aws` and `dev` compose. The domain never imports an AWS SDK, and `tests/tests/layering.rs`
//! holds every layer to its imports.

pub mod app;
#[cfg(feature = "aws")]
pub mod aws;
#[cfg(feature = "aws")]
pub mod aws_error;
pub mod blobs;
pub mod config;
pub mod dev;
pub mod domain;
pub mod gateway;
pub mod gemini;
pub mod http;
pub mod queue;
pub mod secrets;
pub mod store;
pub mod telemetry;
pub mod tls;
pub mod usecases;
pub mod webhooks;
pub mod worker;

pub use app::App;
/// Reference images (their own crate, built for speed: see the workspace profile).
pub use imagegen_images as images;

/// The crate version, reported by `GET /healthz`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
