//! Persistence port: jobs, API keys, rate-limit windows, quota counters, idempotency records.

pub mod layout;
