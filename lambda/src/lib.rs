//! imagegen: turns prompts (plus optional reference images) into images with Gemini.
//!
//! Ports and adapters. `http` is the one axum router that the `api` Lambda and the `dev`
//! server both serve; `domain` holds the rules and use cases; `store`, `blobs`, `queue` and
//! `secrets` are ports with embedded and AWS adapters; `worker` runs a job; `gemini` talks to
//! the model; `tls` secures every outbound HTTPS call. The domain never imports an AWS SDK.

pub mod app;
pub mod aws;
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
pub mod worker;

pub use app::App;
/// Reference images (their own crate, built for speed: see the workspace profile).
pub use imagegen_images as images;

/// The crate version, reported by `GET /healthz`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
