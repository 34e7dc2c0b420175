//! `cargo xtask integration`: the AWS adapters and the whole job flow (HTTP API -> DynamoDB
//! -> SQS -> worker -> Gemini mock -> S3 -> presigned download), and the `deploy`, `keys` and
//! `secrets` commands run as a user runs them, against an AWS emulator.
//!
//! The emulator is chosen here and printed before anything runs:
//!
//! - a Docker daemon answers (`docker info`): LocalStack at [`LOCALSTACK_IMAGE`], which the
//!   tests start themselves through testcontainers (one container per run, shared by every
//!   test process, removed here afterwards);
//! - otherwise moto_server from PyPI ([`MOTO`], installed once into the tools cache), started
//!   here on a free 127.0.0.1 port and stopped afterwards, also when the tests fail.
//!
//! If neither works the command fails and says why: the tests are never skipped.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use xshell::{Shell, cmd};

use crate::test::SELECTION;

use crate::local_server::{LocalServer, free_port};
use crate::tools::{self, PyTool};

/// The emulator where there is no Docker daemon. 5.2.x runs on Python 3.11 and covers every
/// call the adapters and the tests make.
pub const MOTO: PyTool = PyTool {
    package: "moto",
    extras: &["server"],
    version: "5.2.5",
    executable: "moto_server",
};

/// LocalStack where a Docker daemon answers. Images after 4.14 refuse to start without an
/// auth token; 3.8.1 is the last 3.x release and runs S3 (with presigned-URL signature and
/// expiry checks when `S3_SKIP_SIGNATURE_VALIDATION=0`), SQS, DynamoDB and Secrets Manager
/// with no account.
pub const LOCALSTACK_IMAGE: &str = "localstack/localstack:3.8.1";

/// How long `docker info` may take before the daemon counts as absent.
const DOCKER_PROBE: Duration = Duration::from_secs(10);
const MOTO_READY: Duration = Duration::from_secs(30);

#[derive(Debug)]
enum Emulator {
    LocalStack { docker_version: String },
    Moto { why: String },
}

pub fn run(sh: &Shell) -> crate::Result<()> {
    let out_dir = crate::project_root().join("target").join("integration");
    std::fs::create_dir_all(&out_dir)?;
    let report = out_dir.join("report.txt");
    std::fs::write(&report, "")?;

    let emulator = match docker_version() {
        Ok(docker_version) => Emulator::LocalStack { docker_version },
        Err(why) => Emulator::Moto {
            why: crate::one_line(&why),
        },
    };
    banner(&emulator);

    // Build first, so the time printed at the end is the suite's, not the compiler's.
    let built = Instant::now();
    crate::test::lint_while_building(sh);
    let nextest = crate::test::has_nextest(sh);
    if nextest {
        cmd!(
            sh,
            "cargo nextest run {SELECTION...} {EMULATOR_TARGETS...} --no-run"
        )
        .run()?;
    } else {
        println!("cargo-nextest not found; using cargo test");
        cmd!(
            sh,
            "cargo test {SELECTION...} {EMULATOR_TARGETS...} --no-run"
        )
        .run()?;
    }
    let build_seconds = built.elapsed().as_secs_f64();

    let _report = sh.push_env("IMAGEGEN_TEST_REPORT", &report);
    // Held until the end of this function: stops moto or removes the container on every path.
    let (_guard, env) = match &emulator {
        Emulator::LocalStack { .. } => {
            let name = format!("imagegen-it-{}", std::process::id());
            let env = vec![
                (
                    "IMAGEGEN_TEST_LOCALSTACK_IMAGE",
                    LOCALSTACK_IMAGE.to_owned(),
                ),
                ("IMAGEGEN_TEST_LOCALSTACK_NAME", name.clone()),
            ];
            (Guard::Container(ContainerGuard { name }), env)
        }
        Emulator::Moto { .. } => {
            let executable = tools::install(sh, &MOTO).context(
                "no AWS emulator for the integration tests: no Docker daemon, and moto could not \
                 be installed",
            )?;
            let moto = start_moto(&executable, &out_dir.join("moto.log")).context(
                "no AWS emulator for the integration tests: no Docker daemon, and moto_server did \
                 not start",
            )?;
            let env = vec![
                ("IMAGEGEN_TEST_AWS_ENDPOINT", moto.url()),
                ("IMAGEGEN_TEST_EMULATOR", "moto".to_owned()),
            ];
            (Guard::Moto(moto), env)
        }
    };
    let _env: Vec<_> = env.iter().map(|(k, v)| sh.push_env(k, v)).collect();

    let started = Instant::now();
    let outcome = if nextest {
        cmd!(
            sh,
            "cargo nextest run {SELECTION...} {EMULATOR_TARGETS...} --no-fail-fast"
        )
        .run()
    } else {
        cmd!(
            sh,
            "cargo test {SELECTION...} {EMULATOR_TARGETS...} --no-fail-fast"
        )
        .run()
    };
    let suite_seconds = started.elapsed().as_secs_f64();

    let lines = std::fs::read_to_string(&report).unwrap_or_default();
    println!("\n==> integration report ({})", emulator_name(&emulator));
    for line in lines.lines() {
        println!("  {line}");
    }
    println!("  build {build_seconds:.1} s, suite {suite_seconds:.1} s");
    outcome.context("integration tests failed")
}

/// Only the emulator targets: `aws` of the tests crate, `deploy` and `keys` of the xtask (the
/// real commands against the emulator). With `cargo xtask test`'s selection (every package,
/// the same features), so `cargo xtask test` has built them already.
const EMULATOR_TARGETS: [&str; 3] = ["--test=aws", "--test=deploy", "--test=keys"];

fn emulator_name(emulator: &Emulator) -> String {
    match emulator {
        Emulator::LocalStack { .. } => format!("LocalStack {LOCALSTACK_IMAGE}"),
        Emulator::Moto { .. } => format!("moto_server {}", MOTO.version),
    }
}

fn banner(emulator: &Emulator) {
    let rule = "=".repeat(78);
    println!("{rule}");
    match emulator {
        Emulator::LocalStack { docker_version } => {
            println!("AWS EMULATOR: LocalStack {LOCALSTACK_IMAGE} (Docker {docker_version})");
            println!("  started by the tests through testcontainers; presigned URLs are verified");
        }
        Emulator::Moto { why } => {
            println!(
                "AWS EMULATOR: moto_server {} (moto[server] from PyPI)",
                MOTO.version
            );
            println!("  no Docker daemon: {why}");
            println!("  moto does not verify presigned-URL signatures or expiry: those checks");
            println!("  run only on LocalStack (CI) and are reported as not run here");
        }
    }
    println!("{rule}");
}

/// The daemon's version if `docker info` answers within [`DOCKER_PROBE`], else why not.
fn docker_version() -> crate::Result<String> {
    let mut child = Command::new("docker")
        .args(["info", "--format", "{{.ServerVersion}}"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("cannot run `docker`")?;
    let started = Instant::now();
    while child.try_wait().context("`docker info`")?.is_none() {
        if started.elapsed() >= DOCKER_PROBE {
            let _ = child.kill();
            let _ = child.wait();
            bail!(
                "`docker info` did not answer within {} s",
                DOCKER_PROBE.as_secs()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let output = child.wait_with_output().context("`docker info`")?;
    let stdout = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    if output.status.success() && !stdout.is_empty() {
        return Ok(stdout);
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let reason = stderr
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("no daemon version");
    bail!("`docker info` failed: {reason}")
}

/// Whatever must be stopped when the run ends, however it ends.
#[allow(dead_code, reason = "held only for its Drop")]
enum Guard {
    Container(ContainerGuard),
    Moto(LocalServer),
}

/// Removes the run's LocalStack container (the tests leave it running for each other).
struct ContainerGuard {
    name: String,
}

impl Drop for ContainerGuard {
    fn drop(&mut self) {
        let removed = Command::new("docker")
            .args(["rm", "--force", "--volumes", &self.name])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        match removed {
            Ok(status) if status.success() => println!("removed container {}", self.name),
            _ => println!(
                "note: could not remove container {} (it may never have started)",
                self.name
            ),
        }
        // The lock file the test processes took turns on (tests/src/aws/emulator.rs).
        let _ = std::fs::remove_file(std::env::temp_dir().join(format!("{}.lock", self.name)));
    }
}

/// moto's own `moto_server` serves each request on its own thread, and its DynamoDB backend
/// does not lock an item between a condition check and the update: under 200 concurrent
/// conditional `ADD`s it admitted 27 against a cap of 25. DynamoDB applies each conditional
/// write atomically, so the emulator must too: the same app, served on one thread. (Werkzeug
/// then speaks HTTP/1.0, one request per connection, so no idle keep-alive blocks the rest.)
const SINGLE_THREADED_MOTO: &str = "import sys
from werkzeug.serving import run_simple
from moto.server import DomainDispatcherApplication, create_backend_app
from moto.moto_server.werkzeug_app import MotoRequestHandler
app = DomainDispatcherApplication(create_backend_app)
run_simple(sys.argv[1], int(sys.argv[2]), app, threaded=False, request_handler=MotoRequestHandler)
";

/// moto on a free port, one thread (see [`SINGLE_THREADED_MOTO`]).
fn start_moto(executable: &Path, log: &Path) -> crate::Result<LocalServer> {
    let port = free_port()?;
    // The venv's python, next to its moto_server script.
    let python = executable.with_file_name("python");
    println!(
        "$ {} -c <moto app, single-threaded> 127.0.0.1 {port}  (log: {})",
        python.display(),
        log.display()
    );
    let mut command = Command::new(&python);
    command
        .args(["-c", SINGLE_THREADED_MOTO, "127.0.0.1", &port.to_string()])
        .env("MOTO_PORT", port.to_string());
    LocalServer::start("moto_server", command, port, log, MOTO_READY, answers)
}

/// Whether moto answers an HTTP request on its status route.
fn answers(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect_timeout(
        &(Ipv4Addr::LOCALHOST, port).into(),
        Duration::from_millis(500),
    ) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let request = format!("GET /moto-api/data.json HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/1.") && &head[9..10] == b"2"
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn a_free_port_can_be_bound_and_nothing_answers_there() {
        let port = free_port().unwrap();
        assert!(!answers(port));
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, port)).unwrap();
        drop(listener);
    }

    #[test]
    fn only_an_http_2xx_answer_counts_as_ready() {
        for (answer, ready) in [
            (&b"HTTP/1.1 200 OK\r\n\r\n{}"[..], true),
            (b"HTTP/1.0 503 Service Unavailable\r\n\r\n", false),
            (b"SSH-2.0-OpenSSH_9.6\r\n", false),
        ] {
            let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
            let port = listener.local_addr().unwrap().port();
            let server = std::thread::spawn(move || {
                let (mut stream, _) = listener.accept().unwrap();
                let mut request = [0u8; 64];
                let _ = stream.read(&mut request);
                stream.write_all(answer).unwrap();
            });
            assert_eq!(answers(port), ready, "{}", String::from_utf8_lossy(answer));
            server.join().unwrap();
        }
    }

    #[test]
    fn the_tests_run_with_every_package_selected_and_the_feature_on() {
        // `cargo xtask test`'s selection keeps feature resolution identical (no rebuild), and
        // it leaves out exactly the targets run here.
        assert!(SELECTION.contains(&"--workspace"));
        assert!(SELECTION.contains(&"imagegen-tests/integration"));
        assert!(SELECTION.contains(&"xtask/integration"));
        let ids = crate::test::EMULATOR_TARGETS.map(|id| id.rsplit("::").next().unwrap_or(id));
        assert_eq!(
            EMULATOR_TARGETS.map(|t| t.trim_start_matches("--test=")),
            ids
        );
        assert_eq!(MOTO.requirement(), "moto[server]==5.2.5");
        assert!(LOCALSTACK_IMAGE.starts_with("localstack/localstack:3."));
    }
}
