//! The harness: an `App` on the embedded adapters (memory store, blobs in a temp dir, local
//! queue, manual clock, in-memory metrics) behind the real router, plus helpers that speak HTTP
//! to it the way a client would. One file per concern; everything is re-exported here.

mod faulty_store;
mod generator;
mod harness;
mod http;
mod images;

pub use faulty_store::*;
pub use generator::*;
pub use harness::*;
pub use http::*;
pub use images::*;

use time::OffsetDateTime;
use time::macros::datetime;

/// Tests read the memory store directly.
pub use imagegen::store::Store as _;

/// Where every harness's clock starts: mid-morning, so no window rolls over by accident.
pub const START: OffsetDateTime = datetime!(2026-11-26 10:00:00 UTC);
/// The bootstrap admin credential (its SHA-256 goes into the config).
pub const ADMIN_KEY: &str = "igadmin_TestAdminKey0123456789abcdefghijklmnopqrstuv";
/// Base of the local blob store's signed URLs; `fetch`/`put_url` strip it.
pub const BLOB_BASE: &str = "http://blobs.test";
/// Every request comes from here unless it says otherwise.
pub const CLIENT_IP: [u8; 4] = [203, 0, 113, 7];

pub const ALL_SCOPES: &[&str] = &["images:write", "jobs:read", "usage:read"];
