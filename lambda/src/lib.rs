//! imagegen: turns prompts (plus optional reference images) into images with Gemini.
//!
//! Ports and adapters: `http` is the one axum router that the `api` Lambda and the `dev`
//! server both serve; `worker` holds the SQS side. The domain never imports an AWS SDK.

pub mod http;
pub mod images;
pub mod telemetry;
pub mod worker;

/// The crate version, reported by `GET /healthz`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
