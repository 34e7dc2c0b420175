//! The local server: the API's router on 127.0.0.1 with the embedded adapters — in-memory
//! store, blobs in a data folder behind HMAC-signed URLs, an in-process queue and worker — and
//! the offline generator unless `GEMINI_API_KEY` is set. No cloud, no Docker.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use imagegen::App;
use imagegen::blobs::{LocalBlobs, UrlSigner};
use imagegen::config::Config;
use imagegen::domain::SystemClock;
use imagegen::domain::ids::{random_base62, random_bytes};
use imagegen::domain::keys::sha256_hex;
use imagegen::gemini::{GeminiClient, GeminiConfig, ImageGenerator, OfflineGenerator};
use imagegen::queue::LocalQueue;
use imagegen::secrets::{CachedSecret, SecretString, StaticSecret};
use imagegen::store::MemoryStore;
use imagegen::telemetry::Metrics;
use imagegen::worker::Worker;

const USAGE: &str = "usage: dev [--port N] [--data-dir DIR]";

struct Args {
    port: u16,
    data_dir: PathBuf,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        port: 8080,
        data_dir: PathBuf::from(".imagegen/dev"),
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--port" => {
                let value = it.next().ok_or("--port needs a value")?;
                args.port = value
                    .parse()
                    .map_err(|_| format!("--port: `{value}` is not a port number"))?;
            }
            "--data-dir" => {
                args.data_dir = PathBuf::from(it.next().ok_or("--data-dir needs a value")?)
            }
            "-h" | "--help" => return Err(USAGE.to_owned()),
            other => return Err(format!("unknown argument `{other}`\n{USAGE}")),
        }
    }
    Ok(args)
}

/// `IMAGEGEN_ADMIN_KEY` as given (printable, 32+ characters), or a fresh one.
fn admin_key() -> Result<(String, bool), String> {
    match std::env::var("IMAGEGEN_ADMIN_KEY") {
        Ok(key) => {
            let printable = key.chars().all(|c| c.is_ascii_graphic());
            if key.len() < 32 || !printable {
                return Err(
                    "IMAGEGEN_ADMIN_KEY must be 32 or more printable ASCII characters (no spaces)"
                        .into(),
                );
            }
            Ok((key, true))
        }
        Err(_) => Ok((format!("igadmin_{}", random_base62(40)), false)),
    }
}

fn generator() -> Result<Arc<dyn ImageGenerator>, String> {
    let Ok(key) = std::env::var("GEMINI_API_KEY") else {
        return Ok(Arc::new(OfflineGenerator));
    };
    let mut config = GeminiConfig::default();
    if let Ok(base) = std::env::var("IMAGEGEN_GEMINI_BASE_URL") {
        config.base_url = base;
    }
    if let Ok(model) = std::env::var("IMAGEGEN_GEMINI_MODEL") {
        config.model = model;
    }
    let source = StaticSecret::new(SecretString::new(key));
    let secret = Arc::new(CachedSecret::new(Arc::new(source)));
    GeminiClient::new(config, secret)
        .map(|c| Arc::new(c) as Arc<dyn ImageGenerator>)
        .map_err(|e| format!("GEMINI_API_KEY: {e}"))
}

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), String> {
    let args = parse_args()?;
    imagegen::telemetry::init_lambda();
    let mut config = Config::from_env().map_err(|e| e.to_string())?;
    let (admin, given) = admin_key()?;
    config.admin_key_sha256 = Some(sha256_hex(&admin));
    let generator = generator()?;

    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, args.port));
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    let base_url = format!("http://{addr}");

    let blobs = Arc::new(LocalBlobs::new(
        args.data_dir.join("blobs"),
        base_url.clone(),
        UrlSigner::new(random_bytes::<32>()),
    ));
    let (queue, deliveries) = LocalQueue::channel();
    let metrics = match std::env::var("IMAGEGEN_DEV_METRICS").as_deref() {
        Ok("stdout") => Metrics::stdout(&config.metrics_namespace, &config.environment),
        _ => Metrics::off(),
    };
    let app = App {
        store: Arc::new(MemoryStore::new()),
        blobs: blobs.clone(),
        queue: Arc::new(queue.clone()),
        clock: Arc::new(SystemClock),
        config: Arc::new(config),
        metrics,
    };
    let worker = Arc::new(Worker::new(app.clone(), generator.clone()));
    imagegen::worker::local::spawn(worker, queue, deliveries, Duration::from_secs(2));

    let router = imagegen::http::dev::router(app, blobs);

    println!(
        "imagegen dev server on {base_url}  (generator: {}, data: {})",
        generator.name(),
        args.data_dir.display()
    );
    println!("  page:      {base_url}/");
    if given {
        println!("  admin key: from IMAGEGEN_ADMIN_KEY");
    } else {
        println!("  admin key: {admin}");
    }
    println!("  create a key, then an image:");
    println!(
        "    KEY=$(curl -s -X POST {base_url}/v1/admin/keys -H \"x-api-key: {}\" -H 'content-type: application/json' \\\n      -d '{{\"tenant\":\"demo\",\"scopes\":[\"images:write\",\"jobs:read\",\"usage:read\"]}}' | sed -E 's/.*\"key\":\"([^\"]+)\".*/\\1/')",
        if given { "$IMAGEGEN_ADMIN_KEY" } else { &admin }
    );
    println!(
        "    curl -s -X POST {base_url}/v1/images -H \"x-api-key: $KEY\" -H 'content-type: application/json' -H 'prefer: wait=10' \\\n      -d '{{\"prompt\":\"a lighthouse at dusk\",\"count\":2}}'"
    );

    let shutdown = async {
        // Without a signal handler there is nothing to wait for: run until killed.
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
        println!("shutting down");
    };
    // Not axum::serve: it sets no timeouts (see imagegen::http::serve).
    imagegen::http::serve::serve(
        listener,
        router,
        imagegen::http::serve::ServeConfig::default(),
        shutdown,
    )
    .await;
    Ok(())
}
