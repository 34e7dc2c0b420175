//! The use cases: what the service does, over the ports. `http`, the worker and the toolkit
//! call these; the rules they apply live in `domain`, and the world is reached only through
//! the port traits (`store`, `blobs`, `queue`, `gateway`, `gemini`, `webhooks`) the `App` and the
//! generation's `Worker` hold.

pub mod access;
pub mod admission;
pub mod generation;
pub mod janitor;
pub mod jobs;
pub mod keys;
pub mod usage;
pub mod webhooks;
