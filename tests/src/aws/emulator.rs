//! Which AWS emulator the tests talk to, chosen by `cargo xtask integration`:
//!
//! - `IMAGEGEN_TEST_AWS_ENDPOINT=http://127.0.0.1:<port>`: an emulator the xtask started
//!   (moto_server), with `IMAGEGEN_TEST_EMULATOR` naming it (`moto` or `localstack`);
//! - `IMAGEGEN_TEST_LOCALSTACK_IMAGE=localstack/localstack:<tag>`: a Docker daemon answers, so
//!   the tests start LocalStack themselves through testcontainers. Every test process of one
//!   run shares one container, named by `IMAGEGEN_TEST_LOCALSTACK_NAME`; the xtask removes it
//!   when the run ends.
//!
//! With neither, the tests fail with a message that says how to run them: never skipped.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use testcontainers::core::{IntoContainerPort, WaitFor};
use testcontainers::runners::AsyncRunner;
use testcontainers::{GenericImage, ImageExt, ReuseDirective};
use tokio::sync::OnceCell;

pub const ENDPOINT_VAR: &str = "IMAGEGEN_TEST_AWS_ENDPOINT";
pub const KIND_VAR: &str = "IMAGEGEN_TEST_EMULATOR";
pub const LOCALSTACK_IMAGE_VAR: &str = "IMAGEGEN_TEST_LOCALSTACK_IMAGE";
pub const LOCALSTACK_NAME_VAR: &str = "IMAGEGEN_TEST_LOCALSTACK_NAME";

/// LocalStack's edge port inside the container.
const LOCALSTACK_PORT: u16 = 4566;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// moto_server: no presigned-URL signature or expiry checks.
    Moto,
    /// LocalStack with `S3_SKIP_SIGNATURE_VALIDATION=0`: presigned URLs are verified.
    LocalStack,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Moto => "moto",
            Kind::LocalStack => "localstack",
        }
    }

    /// Whether S3 refuses tampered and expired presigned URLs, as AWS does.
    pub fn verifies_presigned_urls(self) -> bool {
        self == Kind::LocalStack
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Emulator {
    /// `http://host:port`, for every service.
    pub endpoint: String,
    pub kind: Kind,
}

pub type Error = Box<dyn std::error::Error + Send + Sync>;

static EMULATOR: OnceCell<Emulator> = OnceCell::const_new();

/// The emulator of this run (started on first use when it is LocalStack in Docker).
pub async fn emulator() -> Result<&'static Emulator, Error> {
    EMULATOR.get_or_try_init(locate).await
}

async fn locate() -> Result<Emulator, Error> {
    if let Some(endpoint) = var(ENDPOINT_VAR) {
        let kind = match var(KIND_VAR).as_deref() {
            None | Some("moto") => Kind::Moto,
            Some("localstack") => Kind::LocalStack,
            Some(other) => {
                return Err(format!("{KIND_VAR}={other}: expected `moto` or `localstack`").into());
            }
        };
        reachable(&endpoint).await?;
        return Ok(Emulator { endpoint, kind });
    }
    if let Some(image) = var(LOCALSTACK_IMAGE_VAR) {
        let name = var(LOCALSTACK_NAME_VAR).unwrap_or_else(|| "imagegen-it-localstack".into());
        return start_localstack(&image, &name).await;
    }
    Err(format!(
        "no AWS emulator configured for the integration tests: run them with \
         `cargo xtask integration` (it starts LocalStack in Docker or moto_server and sets \
         {ENDPOINT_VAR} or {LOCALSTACK_IMAGE_VAR}), or set {ENDPOINT_VAR}=http://127.0.0.1:<port> \
         for an emulator you started yourself"
    )
    .into())
}

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// Starts LocalStack, or finds the container another test process of this run started.
/// A file lock makes the test processes start it one at a time, so exactly one is created.
async fn start_localstack(image: &str, name: &str) -> Result<Emulator, Error> {
    let (repository, tag) = image
        .rsplit_once(':')
        .ok_or_else(|| format!("{LOCALSTACK_IMAGE_VAR}={image}: expected <repository>:<tag>"))?;
    let lock_path: PathBuf = std::env::temp_dir().join(format!("{name}.lock"));
    let lock = std::fs::File::create(&lock_path)
        .map_err(|e| format!("cannot create {}: {e}", lock_path.display()))?;
    // Blocks this test's thread only; the other test processes wait here too.
    lock.lock()
        .map_err(|e| format!("cannot lock {}: {e}", lock_path.display()))?;

    let container = GenericImage::new(repository, tag)
        .with_exposed_port(LOCALSTACK_PORT.tcp())
        .with_wait_for(WaitFor::message_on_stdout("Ready."))
        // sts, lambda, iam, apigateway: `cargo xtask deploy` and `cargo xtask keys` run their
        // preflight, ship code and register keys with usage plans (xtask/tests/).
        .with_env_var(
            "SERVICES",
            "s3,sqs,dynamodb,secretsmanager,sts,lambda,iam,apigateway",
        )
        .with_env_var("EAGER_SERVICE_LOADING", "1")
        .with_env_var("DYNAMODB_IN_MEMORY", "1")
        // Verify presigned URLs (signature and expiry) as S3 does; needs the `test` secret.
        .with_env_var("S3_SKIP_SIGNATURE_VALIDATION", "0")
        .with_container_name(name)
        .with_label("org.imagegen.tests", "integration")
        .with_reuse(ReuseDirective::Always)
        .with_startup_timeout(Duration::from_secs(180))
        .start()
        .await
        .map_err(|e| format!("starting {image} with testcontainers failed: {e}"))?;
    let host = container.get_host().await?;
    let port = container.get_host_port_ipv4(LOCALSTACK_PORT).await?;
    // With reuse, dropping the handle leaves the container running for the other test
    // processes; `cargo xtask integration` removes it by name when the run ends.
    drop(container);
    let endpoint = format!("http://{host}:{port}");
    wait_until_answering(&endpoint, Kind::LocalStack, Duration::from_secs(120)).await?;
    drop(lock);
    Ok(Emulator {
        endpoint,
        kind: Kind::LocalStack,
    })
}

/// Whether something listens at an emulator the xtask said is ready (a TCP connect: moto's
/// status routes dump its whole state, which grows with every test).
async fn reachable(endpoint: &str) -> Result<(), Error> {
    let address = endpoint
        .strip_prefix("http://")
        .map(|rest| rest.trim_end_matches('/'))
        .ok_or_else(|| format!("{ENDPOINT_VAR}={endpoint}: expected http://<host>:<port>"))?;
    match tokio::time::timeout(
        Duration::from_secs(5),
        tokio::net::TcpStream::connect(address),
    )
    .await
    {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(format!("no AWS emulator answers at {endpoint}: {e}").into()),
        Err(_) => Err(format!("no AWS emulator answers at {endpoint} within 5 s").into()),
    }
}

/// Polls LocalStack's health route until it answers 200.
async fn wait_until_answering(endpoint: &str, kind: Kind, limit: Duration) -> Result<(), Error> {
    let url = format!("{endpoint}/_localstack/health");
    let http = super::http_client()?;
    let started = Instant::now();
    loop {
        let last = match http.get(&url).timeout(Duration::from_secs(5)).send().await {
            Ok(r) if r.status().is_success() => return Ok(()),
            Ok(r) => format!("HTTP {}", r.status()),
            Err(e) => e.to_string(),
        };
        if started.elapsed() > limit {
            return Err(format!(
                "the {} emulator at {endpoint} did not answer {url} within {} s ({last})",
                kind.name(),
                limit.as_secs()
            )
            .into());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
