//! The harness of the AWS integration tests (`tests/tests/aws.rs`, run by
//! `cargo xtask integration`): which emulator, per-test resources on it, the service composed
//! on them, and a count of the AWS calls it makes.

pub mod calls;
pub mod emulator;
pub mod env;
pub mod gateway;

use std::io::Write;

pub use calls::{CallCounter, Calls};
pub use emulator::{Emulator, Error, Kind, emulator};
pub use env::{FAKE_GEMINI_KEY, REGION, Reply, TestEnv, receive_count, route};
pub use gateway::{STAGE, rest_api_with_plan};

/// An HTTP client for the emulator and presigned URLs. reqwest is built without a crypto
/// provider of its own (see `imagegen::tls`), so `reqwest::Client::new()` would panic.
pub fn http_client() -> Result<reqwest::Client, Error> {
    Ok(imagegen::tls::reqwest_builder()?.build()?)
}

/// Set by `cargo xtask integration`: a file the report lines are appended to, so the xtask
/// can print them after the run (nextest hides a passing test's output).
pub const REPORT_VAR: &str = "IMAGEGEN_TEST_REPORT";

/// Prints a line worth reading after the run (call counts, checks that could not run here)
/// and appends it to the run's report file.
pub fn report(line: impl std::fmt::Display) {
    let line = line.to_string();
    println!("{line}");
    if let Some(path) = std::env::var_os(REPORT_VAR) {
        let written = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .and_then(|mut file| file.write_all(format!("{line}\n").as_bytes()));
        if let Err(e) = written {
            eprintln!(
                "cannot append to the report {}: {e}",
                path.to_string_lossy()
            );
        }
    }
}
