//! The service's rules, free of HTTP and AWS: who may call, what a job is, how limits and
//! quotas are counted. Use cases here talk to the world only through the port traits in
//! `store`, `blobs` and `queue`.

pub mod admission;
pub mod clock;
pub mod ids;
pub mod jobs;
pub mod keys;
pub mod limits;
pub mod request;

pub use clock::{Clock, ManualClock, SystemClock};
