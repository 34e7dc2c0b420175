//! The local server: the API's router on 127.0.0.1, composed by [`imagegen::dev`] with the
//! embedded adapters and the offline generator unless `GEMINI_API_KEY` is set. No cloud, no
//! Docker.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;

use imagegen::config::Vars;
use imagegen::dev::{AdminKey, DevServer};

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
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, args.port));
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    let base_url = format!("http://{addr}");
    let dev = DevServer::compose(
        &Vars(|name| std::env::var(name).ok()),
        &args.data_dir,
        &base_url,
    )
    .map_err(|e| e.to_string())?;
    let generator = dev.generator.name();
    let admin = match &dev.admin_key {
        AdminKey::Given => None,
        AdminKey::Generated(key) => Some(key.clone()),
    };
    let router = dev.start();

    println!(
        "imagegen dev server on {base_url}  (generator: {}, data: {})",
        generator,
        args.data_dir.display()
    );
    println!("  page:      {base_url}/");
    match &admin {
        None => println!("  admin key: from IMAGEGEN_ADMIN_KEY"),
        Some(key) => println!("  admin key: {key}"),
    }
    println!("  create a key, then an image:");
    println!(
        "    KEY=$(curl -s -X POST {base_url}/v1/admin/keys -H \"x-api-key: {}\" -H 'content-type: application/json' \\\n      -d '{{\"tenant\":\"demo\",\"scopes\":[\"images:write\",\"jobs:read\",\"usage:read\"]}}' | sed -E 's/.*\"key\":\"([^\"]+)\".*/\\1/')",
        admin.as_deref().unwrap_or("$IMAGEGEN_ADMIN_KEY")
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
