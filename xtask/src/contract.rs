//! `cargo xtask contract`: the running service against its own OpenAPI document.
//!
//! Builds and starts the dev server on a free 127.0.0.1 port (in-memory store, offline
//! generator, a fresh data folder), creates a tenant key with every scope through
//! `POST /v1/admin/keys`, then runs schemathesis (pinned, from PyPI) over `/openapi.json` with
//! every check and every phase: the document's examples, its coverage cases, fuzzing, and the
//! stateful phase that follows the document's response links. Any failure fails the command.
//! The server is stopped in every case; its log is kept when something failed.
//!
//! Two settings are ours rather than schemathesis' defaults, both narrow:
//! - admin operations authenticate with the bootstrap admin key, the rest with the tenant key;
//! - a schema-valid request may be answered 422 where the document says so (a reference image
//!   whose bytes are not a usable image, a time already past: no JSON Schema can state
//!   these), and `POST /v1/images` may answer 415 for reference bytes that are not an image.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use xshell::{Shell, cmd};

use crate::local_server::{LocalServer, free_port};
use crate::test::SELECTION;
use crate::tools::{self, PyTool};

/// Property-based tests from an OpenAPI document (`st`).
pub const SCHEMATHESIS: PyTool = PyTool {
    package: "schemathesis",
    extras: &[],
    version: "4.32.5",
    executable: "st",
};

/// How long the server may take to answer `/healthz` after it was started.
const READY: Duration = Duration::from_secs(30);

/// Test cases per operation and phase: with every phase, about a minute of requests.
const MAX_EXAMPLES: &str = "300";
/// Longer than the longest `Prefer: wait` the server honours (25 s).
const REQUEST_TIMEOUT: &str = "30";
/// A fixed seed: CI must be reproducible, so a failure seen once is seen again on re-run.
/// `IMAGEGEN_CONTRACT_SEED` explores other cases locally.
const DEFAULT_SEED: &str = "20261130";

/// Limits far above what a run sends, so no 429 hides what an operation answers (429 is
/// still documented and allowed where it can happen).
const GENEROUS: [(&str, &str); 7] = [
    ("IMAGEGEN_DEFAULT_RATE_PER_MINUTE", "1000000"),
    ("IMAGEGEN_DEFAULT_BURST", "1000000"),
    ("IMAGEGEN_DEFAULT_DAILY_QUOTA", "100000000"),
    ("IMAGEGEN_DEFAULT_MONTHLY_QUOTA", "1000000000"),
    ("IMAGEGEN_IP_RATE_PER_MINUTE", "10000000"),
    ("IMAGEGEN_GLOBAL_RATE_PER_MINUTE", "100000000"),
    ("IMAGEGEN_GLOBAL_DAILY_IMAGES", "1000000000"),
];

pub fn run(sh: &Shell) -> crate::Result<()> {
    let started = Instant::now();
    let st = tools::install(sh, &SCHEMATHESIS)?;
    // Built as a test build of the dev server's own tests builds it (see test::SELECTION): a
    // plain `cargo build` leaves out the dev-dependencies' features and rebuilt ~80 crates.
    crate::test::lint_while_building(sh);
    let messages = cmd!(
        sh,
        "cargo test {SELECTION...} --no-run --test dev_server --message-format=json-render-diagnostics"
    )
    .read()?;
    let binary = crate::executable(&messages, "dev")
        .context("cargo built no `dev` executable for the contract run")?;

    // Kept when the run fails: the server's log is in it.
    let work = tempfile::Builder::new()
        .prefix("imagegen-contract-")
        .tempdir()?
        .keep();
    let admin_key = format!("igadmin_{}", random_alphanumeric(40)?);
    let server = start_dev_server(&binary, &work, &admin_key)?;
    let outcome = test(&st, &server, &work, &admin_key);
    drop(server);
    match &outcome {
        Ok(()) => {
            let _ = std::fs::remove_dir_all(&work);
            println!(
                "contract: no failures ({:.0} s)",
                started.elapsed().as_secs_f64()
            );
        }
        Err(_) => println!(
            "contract: the server's log is {}",
            work.join("dev.log").display()
        ),
    }
    outcome
}

fn test(st: &Path, server: &LocalServer, work: &Path, admin_key: &str) -> crate::Result<()> {
    let tenant_key = create_tenant_key(server.port, admin_key)?;
    let config = work.join("schemathesis.toml");
    std::fs::write(&config, CONFIG)?;
    let schema = format!("http://127.0.0.1:{}/openapi.json", server.port);
    println!("$ st run {schema} --checks all (every phase, {MAX_EXAMPLES} examples per operation)");
    let seed = std::env::var("IMAGEGEN_CONTRACT_SEED").unwrap_or_else(|_| DEFAULT_SEED.to_owned());
    let status = Command::new(st)
        .arg("--config-file")
        .arg(&config)
        .args(["run", &schema, "--checks", "all"])
        .args(["--phases", "examples,coverage,fuzzing,stateful"])
        .args(["--max-examples", MAX_EXAMPLES])
        .args(["--request-timeout", REQUEST_TIMEOUT])
        .args(["--seed", &seed])
        // One worker: hypothesis' lambda descriptions call `ast.parse`, which CPython 3.11
        // breaks on when two threads run it at once ("AST constructor recursion depth mismatch").
        .args(["--workers", "1"])
        .args(["--generation-database", "none"])
        .args(["--no-color"])
        .env("IMAGEGEN_CONTRACT_TENANT_KEY", &tenant_key)
        .env("IMAGEGEN_CONTRACT_ADMIN_KEY", admin_key)
        // Its reports and caches go to the scratch folder, not the working tree.
        .current_dir(work)
        .stdin(Stdio::null())
        .status()
        .with_context(|| format!("cannot run {}", st.display()))?;
    ensure!(
        status.success(),
        "schemathesis found failures ({status}); see its summary above"
    );
    Ok(())
}

/// schemathesis' configuration; the keys come from the environment. An operation's own
/// `headers` replace the run's, which is how admin operations get the admin key (per-operation
/// `auth` takes only HTTP basic).
const CONFIG: &str = r#"
headers = { "x-api-key" = "${IMAGEGEN_CONTRACT_TENANT_KEY}" }

[[operations]]
include-tag = "admin"
headers = { "x-api-key" = "${IMAGEGEN_CONTRACT_ADMIN_KEY}" }
checks.positive_data_acceptance.expected-statuses = ["2xx", "401", "403", "404", "409", "422", "429", "5xx"]

[[operations]]
include-path = "/v1/images"
include-method = "POST"
checks.positive_data_acceptance.expected-statuses = ["2xx", "401", "403", "404", "409", "415", "422", "429", "5xx"]
"#;

/// The dev server on a free port, with the admin key and the generous limits of [`GENEROUS`].
fn start_dev_server(binary: &Path, work: &Path, admin_key: &str) -> crate::Result<LocalServer> {
    let port = free_port()?;
    let log = work.join("dev.log");
    let data = work.join("data");
    println!(
        "$ {} --port {port} --data-dir {}  (log: {})",
        binary.display(),
        data.display(),
        log.display()
    );
    let mut command = Command::new(binary);
    command
        .arg("--port")
        .arg(port.to_string())
        .arg("--data-dir")
        .arg(&data)
        .env("IMAGEGEN_ADMIN_KEY", admin_key)
        // The offline generator: a contract run never calls Gemini.
        .env_remove("GEMINI_API_KEY")
        .envs(GENEROUS);
    LocalServer::start("the dev server", command, port, &log, READY, |port| {
        matches!(request(port, "GET", "/healthz", &[], ""), Ok((200, _)))
    })
}

/// A key of tenant `contract` with every scope and limits no run reaches.
fn create_tenant_key(port: u16, admin_key: &str) -> crate::Result<String> {
    let max = u32::MAX;
    let body = serde_json::json!({
        "tenant": "contract",
        "scopes": ["images:write", "jobs:read", "usage:read", "admin"],
        "rate_per_minute": max, "burst": max, "daily_quota": max, "monthly_quota": max, "daily_refusal_limit": max,
    })
    .to_string();
    let (status, answer) = request(
        port,
        "POST",
        "/v1/admin/keys",
        &[
            ("x-api-key", admin_key),
            ("content-type", "application/json"),
        ],
        &body,
    )?;
    ensure!(status == 201, "creating the tenant key: {status} {answer}");
    let answer: serde_json::Value = serde_json::from_str(&answer)?;
    answer["key"]
        .as_str()
        .map(str::to_owned)
        .with_context(|| format!("creating the tenant key: no `key` in {answer}"))
}

/// One HTTP/1.0 exchange (the connection closes after it): status and body.
fn request(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> crate::Result<(u16, String)> {
    let mut stream =
        TcpStream::connect_timeout(&(Ipv4Addr::LOCALHOST, port).into(), Duration::from_secs(1))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut head = format!(
        "{method} {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\ncontent-length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    stream.write_all(body.as_bytes())?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer)?;
    let status = answer
        .get(9..12)
        .and_then(|s| s.parse().ok())
        .with_context(|| format!("not an HTTP answer: {answer:.60}"))?;
    let body = answer
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    Ok((status, body))
}

/// `n` random letters and digits (the dev server's bootstrap admin credential for this run).
fn random_alphanumeric(n: usize) -> crate::Result<String> {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut bytes = vec![0u8; n];
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
    // 256 is not a multiple of 62: the slight bias does not matter for a throwaway test key.
    Ok(bytes
        .iter()
        .map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()]))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemathesis_is_pinned_to_an_exact_version() {
        assert_eq!(SCHEMATHESIS.requirement(), "schemathesis==4.32.5");
    }

    #[test]
    fn the_config_names_both_keys_by_environment_variable() {
        assert!(CONFIG.contains("${IMAGEGEN_CONTRACT_TENANT_KEY}"));
        assert!(CONFIG.contains("${IMAGEGEN_CONTRACT_ADMIN_KEY}"));
    }

    #[test]
    fn nothing_answers_on_a_free_port() {
        let port = free_port().unwrap();
        assert!(request(port, "GET", "/healthz", &[], "").is_err());
    }
}
