//! The v1 HTTP contract, proven through the real router with the embedded adapters: every
//! route, every error code, the job flow end to end, limits, quotas, keys, uploads, the worker's
//! exactly-once guarantees, the OpenAPI document and telemetry.
//!
//! One test binary (one link) with a module per concern; `common` is the harness.

// Helpers assert by unwrapping, like the tests that call them; clippy's allow-unwrap-in-tests
// only covers `#[test]` functions themselves.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

mod cancel;
mod console;
mod delete;
mod errors;
mod faults;
mod flow;
mod formats;
mod hostile;
mod idempotency;
mod keys;
mod listing;
mod openapi;
mod prefer_wait;
mod quotas;
mod telemetry;
mod uploads;
mod webhooks;
mod worker;
