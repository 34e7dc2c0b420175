//! `cargo xtask smoke`: the exact `bootstrap` from each zip, run under a local Lambda Runtime
//! API, answers a saved real event. Also times cold starts (spawn to first `/next`).

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail, ensure};
use serde_json::Value;
use xshell::Shell;

/// Zips bigger than this fail the step: a guard against a dependency doubling the artifact.
const ZIP_BUDGET_BYTES: u64 = 8_000_000;
/// What each zip should stay under (issue 2); reported, not enforced, so a dependency bump
/// that crosses it shows up here without failing an unrelated change.
const ZIP_TARGET_BYTES: u64 = 4_000_000;
/// Reported against the median cold start; timing on shared CI machines is too noisy to gate on.
const INIT_TARGET: Duration = Duration::from_millis(15);
const INVOKE_TIMEOUT: Duration = Duration::from_secs(20);
const RUNTIME_PREFIX: &str = "/2018-06-01/runtime";

struct Case {
    bin: &'static str,
    event: &'static str,
    check: fn(&Value) -> crate::Result<()>,
}

const CASES: [Case; 3] = [
    Case {
        bin: "api",
        event: "tests/data/apigw-rest-get-healthz.json",
        check: check_healthz_answer,
    },
    Case {
        bin: "worker",
        event: "tests/data/sqs-job-message.json",
        check: check_worker_answer,
    },
    // A batch of the webhook queue: told from the jobs' by its queue, each message a delivery.
    Case {
        bin: "worker",
        event: "tests/data/sqs-webhook-message.json",
        check: check_webhook_answer,
    },
];

pub fn run(_sh: &Shell, runs: usize) -> crate::Result<()> {
    let runs = runs.max(1);
    let mut rows = Vec::new();
    for case in &CASES {
        let zip_path = crate::lambda_dir().join(format!("{}.zip", case.bin));
        let zip_bytes = std::fs::metadata(&zip_path)
            .map_err(|e| anyhow!("{}: {e} (run `cargo xtask zip` first)", zip_path.display()))?
            .len();
        let bootstrap = unpack_bootstrap(&zip_path, case.bin)?;
        let event = std::fs::read_to_string(crate::project_root().join(case.event))?;
        let mut inits = Vec::with_capacity(runs);
        for _ in 0..runs {
            let outcome = invoke_once(&bootstrap, case.bin, &event)?;
            (case.check)(&outcome.response).map_err(|e| {
                anyhow!(
                    "{}: unexpected answer: {}\n{}",
                    case.bin,
                    crate::one_line(&e),
                    outcome.response
                )
            })?;
            inits.push(outcome.init);
        }
        inits.sort();
        expect_init_error(&bootstrap, case.bin, &event, "IMAGEGEN_BUCKET")?;
        rows.push((case.bin, zip_bytes, inits));
    }

    println!(
        "\n{:<8} {:>10} {:>12} {:>10} {:>10}",
        "function", "zip", "init median", "init min", "init max"
    );
    let mut over_budget = Vec::new();
    for (bin, bytes, inits) in &rows {
        let median = inits[inits.len() / 2];
        println!(
            "{bin:<8} {:>8.2}MB {:>10.2}ms {:>8.2}ms {:>8.2}ms",
            *bytes as f64 / 1e6,
            ms(median),
            ms(inits[0]),
            ms(inits[inits.len() - 1]),
        );
        if median > INIT_TARGET {
            println!(
                "  note: {bin} median init {:.2} ms is over the {} ms target",
                ms(median),
                INIT_TARGET.as_millis()
            );
        }
        if *bytes > ZIP_TARGET_BYTES {
            println!(
                "  note: {bin}.zip is {:.2} MB, over the {:.0} MB target",
                *bytes as f64 / 1e6,
                ZIP_TARGET_BYTES as f64 / 1e6
            );
        }
        if *bytes > ZIP_BUDGET_BYTES {
            over_budget.push(format!("{bin}.zip is {bytes} bytes"));
        }
    }
    println!("(init = process spawn to first /runtime/invocation/next; {runs} cold starts each)");
    ensure!(
        over_budget.is_empty(),
        "over the {ZIP_BUDGET_BYTES}-byte zip budget: {}",
        over_budget.join(", ")
    );
    Ok(())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Extracts the zip's `bootstrap` next to it, checking that Lambda could execute it.
fn unpack_bootstrap(zip_path: &Path, bin: &str) -> crate::Result<PathBuf> {
    let file = std::fs::File::open(zip_path)?;
    let mut archive = zip::ZipArchive::new(file)?;
    let names = archive
        .file_names()
        .map(|name| name.map(|n| n.into_owned()))
        .collect::<Result<Vec<_>, _>>()?;
    ensure!(
        names == ["bootstrap"],
        "{}: expected only `bootstrap`, found {names:?}",
        zip_path.display()
    );
    let mut entry = archive.by_name("bootstrap")?;
    let mode = entry.unix_mode().unwrap_or(0);
    ensure!(
        mode & 0o755 == 0o755,
        "{}: bootstrap has mode {mode:o}, Lambda needs 0755",
        zip_path.display()
    );
    let mut data = Vec::new();
    entry.read_to_end(&mut data)?;
    let dir = crate::lambda_dir().join("smoke").join(bin);
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("bootstrap");
    std::fs::write(&path, data)?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode & 0o777))?;
    Ok(path)
}

struct Outcome {
    init: Duration,
    response: Value,
}

/// Kills the function process however the exchange ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// What Terraform gives the functions, pointed at a closed local port: `/healthz` must not
/// touch AWS, and a job message must fail fast (and be reported for retry), not hang; so must
/// a message that is not a job's, whose dead-lettering cannot reach the queue either.
const DEPLOYED_ENV: [(&str, &str); 18] = [
    ("IMAGEGEN_ENV", "smoke"),
    ("IMAGEGEN_JOBS_TABLE", "imagegen-smoke-jobs"),
    ("IMAGEGEN_KEYS_TABLE", "imagegen-smoke-api-keys"),
    ("IMAGEGEN_COUNTERS_TABLE", "imagegen-smoke-counters"),
    ("IMAGEGEN_IDEMPOTENCY_TABLE", "imagegen-smoke-idempotency"),
    ("IMAGEGEN_WEBHOOKS_TABLE", "imagegen-smoke-webhooks"),
    ("IMAGEGEN_BUCKET", "imagegen-smoke"),
    (
        "IMAGEGEN_QUEUE_URL",
        "http://127.0.0.1:9/000000000000/imagegen-smoke-jobs",
    ),
    (
        "IMAGEGEN_DEAD_LETTER_QUEUE_URL",
        "http://127.0.0.1:9/000000000000/imagegen-smoke-jobs-dlq",
    ),
    // Named as the saved event's queue: the worker routes batches by the queue's name.
    (
        "IMAGEGEN_WEBHOOK_QUEUE_URL",
        "http://127.0.0.1:9/000000000000/imagegen-staging-jobs-webhooks",
    ),
    (
        "IMAGEGEN_WEBHOOK_DEAD_LETTER_QUEUE_URL",
        "http://127.0.0.1:9/000000000000/imagegen-staging-jobs-webhooks-dlq",
    ),
    (
        "IMAGEGEN_GEMINI_SECRET_ARN",
        "arn:aws:secretsmanager:eu-west-1:123456789012:secret:imagegen-smoke-gemini",
    ),
    ("AWS_ENDPOINT_URL", "http://127.0.0.1:9"),
    ("AWS_ACCESS_KEY_ID", "AKIASMOKETEST"),
    ("AWS_SECRET_ACCESS_KEY", "smoke-test-secret"),
    ("AWS_SESSION_TOKEN", "smoke-test-token"),
    ("AWS_MAX_ATTEMPTS", "1"),
    ("AWS_EC2_METADATA_DISABLED", "true"),
];

fn invoke_once(bootstrap: &Path, bin: &str, event: &str) -> crate::Result<Outcome> {
    invoke(bootstrap, bin, event, None)
}

/// Starts the function without `missing`: init must fail (an `/init/error` call or an exit)
/// with a message that names the variable.
fn expect_init_error(bootstrap: &Path, bin: &str, event: &str, missing: &str) -> crate::Result<()> {
    match invoke(bootstrap, bin, event, Some(missing)) {
        Err(e) => {
            let got = crate::one_line(&e);
            ensure!(
                got.contains(missing) && !got.contains("no answer within"),
                "{bin} without {missing}: expected an init error naming it, got: {got}"
            );
            Ok(())
        }
        Ok(_) => bail!("{bin} started without {missing}"),
    }
}

fn invoke(
    bootstrap: &Path,
    bin: &str,
    event: &str,
    without: Option<&str>,
) -> crate::Result<Outcome> {
    let server = tiny_http::Server::http("127.0.0.1:0")
        .map_err(|e| anyhow::Error::from_boxed(e).context("runtime API"))?;
    let addr = server
        .server_addr()
        .to_ip()
        .context("runtime API did not bind an IP address")?;
    let log_path = bootstrap.with_extension("log");
    let log = std::fs::File::create(&log_path)?;

    let spawned = Instant::now();
    let child = Command::new(bootstrap)
        .env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", addr.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", format!("imagegen-smoke-{bin}"))
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512")
        .env(
            "AWS_LAMBDA_LOG_GROUP_NAME",
            format!("/aws/lambda/imagegen-smoke-{bin}"),
        )
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "2024/12/19/[$LATEST]smoke")
        .env("AWS_LAMBDA_LOG_FORMAT", "JSON")
        .env("AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH", "true")
        .env("AWS_REGION", "eu-west-1")
        .env("_HANDLER", "bootstrap")
        .envs(
            DEPLOYED_ENV
                .iter()
                .copied()
                .filter(|(k, _)| Some(*k) != without),
        )
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .spawn()
        .with_context(|| format!("cannot start {}", bootstrap.display()))?;
    let mut child = Running(child);
    let fail = |why: String| {
        let log = std::fs::read_to_string(&log_path).unwrap_or_default();
        anyhow!("{bin}: {why}\n--- function output ---\n{log}")
    };

    let request_id = "8476a536-e9f4-11e8-9739-2dfe598c3fcd";
    let mut init = None;
    let deadline = spawned + INVOKE_TIMEOUT;
    loop {
        if let Some(status) = child.0.try_wait()? {
            return Err(fail(format!("exited with {status} before answering")));
        }
        let Some(wait) = deadline.checked_duration_since(Instant::now()) else {
            return Err(fail(format!("no answer within {INVOKE_TIMEOUT:?}")));
        };
        let Some(mut request) = server.recv_timeout(wait.min(Duration::from_millis(200)))? else {
            continue;
        };
        let url = request.url().to_owned();
        let path = url.strip_prefix(RUNTIME_PREFIX).unwrap_or(&url).to_owned();
        let mut body = String::new();
        request.as_reader().read_to_string(&mut body)?;
        let method = request.method().clone();
        match (method, path.as_str()) {
            (tiny_http::Method::Get, "/invocation/next") if init.is_none() => {
                init = Some(spawned.elapsed());
                let deadline_ms = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)?
                    .as_millis()
                    + 30_000;
                let response = tiny_http::Response::from_string(event)
                    .with_header(header("Content-Type", "application/json")?)
                    .with_header(header("Lambda-Runtime-Aws-Request-Id", request_id)?)
                    .with_header(header(
                        "Lambda-Runtime-Deadline-Ms",
                        &deadline_ms.to_string(),
                    )?)
                    .with_header(header(
                        "Lambda-Runtime-Invoked-Function-Arn",
                        &format!(
                            "arn:aws:lambda:eu-west-1:123456789012:function:imagegen-smoke-{bin}"
                        ),
                    )?)
                    .with_header(header(
                        "Lambda-Runtime-Trace-Id",
                        "Root=1-6763a1b2-3c4d5e6f7a8b9c0d1e2f3a4b;Sampled=0",
                    )?);
                request.respond(response)?;
            }
            // A second long poll after the answer: leave it hanging, the process is killed next.
            (tiny_http::Method::Get, "/invocation/next") => {}
            (tiny_http::Method::Post, p) if p == format!("/invocation/{request_id}/response") => {
                request.respond(tiny_http::Response::empty(202))?;
                let init =
                    init.ok_or_else(|| fail("answered before asking for an event".into()))?;
                let response = serde_json::from_str(&body)
                    .map_err(|e| fail(format!("answer is not JSON ({e}): {body}")))?;
                return Ok(Outcome { init, response });
            }
            (tiny_http::Method::Post, p) if p.ends_with("/error") => {
                let p = p.trim_start_matches('/');
                request.respond(tiny_http::Response::empty(202))?;
                return Err(fail(format!("reported an error on {p}: {body}")));
            }
            (method, p) => {
                request.respond(tiny_http::Response::empty(404))?;
                return Err(fail(format!("unexpected runtime API call {method} {p}")));
            }
        }
    }
}

fn header(name: &str, value: &str) -> crate::Result<tiny_http::Header> {
    tiny_http::Header::from_bytes(name.as_bytes(), value.as_bytes())
        .ok()
        .with_context(|| format!("bad header {name}: {value}"))
}

/// The API Gateway proxy answer for `GET /healthz`.
fn check_healthz_answer(answer: &Value) -> crate::Result<()> {
    ensure!(
        answer["statusCode"] == 200,
        "statusCode {} instead of 200",
        answer["statusCode"]
    );
    let body: Value = serde_json::from_str(answer["body"].as_str().context("no body")?)?;
    ensure!(
        body["status"] == "ok" && body["version"] == env!("CARGO_PKG_VERSION"),
        "body {body}"
    );
    // The gateway's request id must come back, so logs and access logs line up.
    let request_id = header_value(answer, "x-request-id").context("no x-request-id header")?;
    ensure!(
        request_id == "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
        "x-request-id {request_id} is not the gateway's request id"
    );
    Ok(())
}

fn header_value<'a>(answer: &'a Value, name: &str) -> Option<&'a str> {
    let find = |map: &'a Value| {
        map.as_object()?
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    };
    match find(&answer["headers"]) {
        Some(v) => v.as_str(),
        None => find(&answer["multiValueHeaders"])?.get(0)?.as_str(),
    }
}

/// The saved SQS event holds a job message and a malformed one. With AWS unreachable the job
/// cannot be loaded, so the function must report both for retry (never drop a job), in the
/// partial-batch format.
fn check_worker_answer(answer: &Value) -> crate::Result<()> {
    check_failures(
        answer,
        &[
            "059f36b4-87a3-44ab-83d2-661975830a7d",
            "2e1424d4-f796-459a-8184-9c92662be6da",
        ],
    )
}

/// The webhook delivery cannot read its job (no DynamoDB here), and the job message on the
/// webhook queue is not a webhook message whose dead-lettering cannot reach SQS either: both
/// come back for retry.
fn check_webhook_answer(answer: &Value) -> crate::Result<()> {
    check_failures(
        answer,
        &[
            "6b0e4f0a-1d8c-4a59-9b1e-0c2f3a4b5c6d",
            "9c7d6e5f-4a3b-4c2d-8e1f-0a9b8c7d6e5f",
        ],
    )
}

fn check_failures(answer: &Value, expected: &[&str]) -> crate::Result<()> {
    let failures = answer["batchItemFailures"]
        .as_array()
        .context("no batchItemFailures list")?;
    let ids: Vec<_> = failures
        .iter()
        .filter_map(|f| f["itemIdentifier"].as_str())
        .collect();
    ensure!(
        ids == expected,
        "batchItemFailures {ids:?}, expected {expected:?}"
    );
    Ok(())
}
