//! imagegen: turns prompts (plus optional reference images) into images with Gemini.
//!
//! Ports and adapters: `http` is the one axum router that the `api` Lambda and the `dev`
//! server both serve; `worker` holds the SQS side; `gemini` turns prompts into images (Gemini
//! over REST, or an offline stand-in); `secrets` supplies the Gemini key. The domain never
//! imports an AWS SDK.

pub mod gemini;
pub mod http;
pub mod secrets;
pub mod telemetry;
pub mod worker;

/// The crate version, reported by `GET /healthz`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
