//! The service's rules and types, free of HTTP, AWS and the ports: what a key, a caller and a
//! job are, how limits and quotas are counted. Nothing here does I/O; `usecases` applies these
//! rules through the ports.

pub mod clock;
pub mod ids;
pub mod jobs;
pub mod keys;
pub mod limits;
pub mod pricing;
pub mod request;
pub mod webhooks;

pub use clock::{Clock, ManualClock, SystemClock};
