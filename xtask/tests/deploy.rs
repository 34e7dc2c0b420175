//! `cargo xtask deploy` against an AWS emulator (run by `cargo xtask integration`): the real
//! xtask binary, a recording `terraform` (the real one cannot reach providers here) that answers
//! with outputs naming emulator resources, and a local `/healthz` server for the smoke check.
//!
//! Each test makes its own zips (unique content, so unique content addresses and release IDs),
//! its own functions and its own health server; they share only the artifact bucket, whose
//! keys are content addresses. The prod tests run git in a temporary repository, so they do
//! not depend on the state of this checkout.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a panic is the failure report"
)]

mod support;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use aws_config::SdkConfig;
use aws_sdk_lambda::primitives::Blob;
use base64::Engine;
use imagegen_tests::aws::Emulator;
use sha2::{Digest, Sha256};
use support::{FakeTerraform, Run, TempRepo, run, xtask};

/// A plan with something of every kind, a destroy and a replacement among them.
const PLAN_JSON: &str = r#"{
  "format_version": "1.2",
  "resource_changes": [
    {"address": "module.api.aws_lambda_function.this", "change": {"actions": ["update"]}},
    {"address": "module.queue.aws_sqs_queue.this", "change": {"actions": ["no-op"]}},
    {"address": "module.cost.aws_budgets_budget.this", "change": {"actions": ["create"]}},
    {"address": "module.api_gateway.aws_api_gateway_deployment.this", "change": {"actions": ["create", "delete"]}},
    {"address": "module.observability.aws_cloudwatch_metric_alarm.legacy", "change": {"actions": ["delete"]}}
  ]
}"#;

// ---------------------------------------------------------------------------------------------
// The world a test deploys into

struct World {
    emulator: &'static Emulator,
    sdk: SdkConfig,
    account: String,
    /// The artifact bucket, named as bootstrap names it.
    bucket: String,
    /// Unique per test: names its functions, role and zips.
    tag: String,
}

async fn world() -> World {
    let emulator = imagegen_tests::aws::emulator().await.unwrap();
    let sdk = imagegen_tests::aws::env::sdk_config(emulator);
    let account = support::account_id(&sdk).await;
    let bucket = format!("imagegen-artifacts-{account}");
    let world = World {
        emulator,
        sdk,
        account,
        bucket,
        tag: unique_tag(),
    };
    // Shared by the tests: whichever comes first creates it.
    let _ = world
        .s3()
        .create_bucket()
        .bucket(&world.bucket)
        .send()
        .await;
    world
        .s3()
        .head_bucket()
        .bucket(&world.bucket)
        .send()
        .await
        .unwrap();
    world
}

fn unique_tag() -> String {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!(
        "ig{:x}{:x}{}",
        std::process::id(),
        nanos % 0xffff_ffff,
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

fn sha256_hex(data: &[u8]) -> String {
    Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn sha256_base64(data: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(Sha256::digest(data))
}

/// A Lambda zip whose `bootstrap` is a script naming `what` (not ELF: no architecture check).
fn lambda_zip(what: &str) -> Vec<u8> {
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default().unix_permissions(0o755);
    writer.start_file("bootstrap", options).unwrap();
    writer
        .write_all(format!("#!/bin/sh\n# {what}\n").as_bytes())
        .unwrap();
    writer.finish().unwrap().into_inner()
}

/// A release's zips on disk, as `cargo xtask zip` leaves them.
struct Zips {
    dir: PathBuf,
    api: Vec<u8>,
    worker: Vec<u8>,
}

impl Zips {
    fn new(world: &World, version: &str, terraform: &FakeTerraform) -> Zips {
        let dir = terraform.dir().join(format!("zips-{version}"));
        std::fs::create_dir_all(&dir).unwrap();
        let api = lambda_zip(&format!("{} api {version}", world.tag));
        let worker = lambda_zip(&format!("{} worker {version}", world.tag));
        std::fs::write(dir.join("api.zip"), &api).unwrap();
        std::fs::write(dir.join("worker.zip"), &worker).unwrap();
        Zips { dir, api, worker }
    }

    fn dir(&self) -> &str {
        self.dir.to_str().unwrap()
    }
}

impl World {
    fn s3(&self) -> aws_sdk_s3::Client {
        let config = aws_sdk_s3::config::Builder::from(&self.sdk)
            .force_path_style(true)
            .build();
        aws_sdk_s3::Client::from_conf(config)
    }

    fn lambda(&self) -> aws_sdk_lambda::Client {
        aws_sdk_lambda::Client::new(&self.sdk)
    }

    async fn object(&self, key: &str) -> Option<Vec<u8>> {
        let object = self
            .s3()
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .ok()?;
        Some(object.body.collect().await.unwrap().into_bytes().to_vec())
    }

    /// The role the functions run as: the emulator's Lambda insists it exists. There is no
    /// IAM client among the dependencies, so this is IAM's query API by hand (the emulators
    /// route on the credential scope and do not check the signature).
    async fn create_role(&self) -> String {
        let name = format!("{}-role", self.tag);
        let body = format!(
            "Action=CreateRole&Version=2010-05-08&RoleName={name}&AssumeRolePolicyDocument=%7B%7D"
        );
        let response = imagegen_tests::aws::http_client()
            .unwrap()
            .post(format!("{}/", self.emulator.endpoint))
            .header("content-type", "application/x-www-form-urlencoded")
            .header(
                "authorization",
                format!(
                    "AWS4-HMAC-SHA256 Credential=test/20250101/{}/iam/aws4_request, \
                     SignedHeaders=host, Signature=0",
                    support::REGION
                ),
            )
            .body(body)
            .send()
            .await
            .unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        assert!(status.is_success(), "CreateRole: {status} {text}");
        format!("arn:aws:iam::{}:role/{name}", self.account)
    }

    /// The two functions as the first full deploy leaves them: version 1 published with
    /// `api_code`/`worker_code`, and `live` pointing at it.
    async fn create_functions(&self, api_code: &[u8], worker_code: &[u8]) -> (String, String) {
        let role = self.create_role().await;
        let mut names = Vec::new();
        for (bin, code) in [("api", api_code), ("worker", worker_code)] {
            let name = format!("{}-{bin}", self.tag);
            let created = self
                .lambda()
                .create_function()
                .function_name(&name)
                .runtime(aws_sdk_lambda::types::Runtime::Providedal2023)
                .handler("bootstrap")
                .role(&role)
                .code(
                    aws_sdk_lambda::types::FunctionCode::builder()
                        .zip_file(Blob::new(code.to_vec()))
                        .build(),
                )
                .publish(true)
                .send()
                .await
                .unwrap();
            self.wait_until_active(&name).await;
            self.lambda()
                .create_alias()
                .function_name(&name)
                .name("live")
                .function_version(created.version().unwrap())
                .send()
                .await
                .unwrap();
            names.push(name);
        }
        (names.remove(0), names.remove(0))
    }

    /// A new function is `Pending` for a moment on LocalStack (as on AWS); moto makes it
    /// `Active` at once.
    async fn wait_until_active(&self, function: &str) {
        let started = std::time::Instant::now();
        loop {
            let config = self
                .lambda()
                .get_function_configuration()
                .function_name(function)
                .send()
                .await
                .unwrap();
            match config.state() {
                None | Some(aws_sdk_lambda::types::State::Active) => return,
                Some(state) => assert!(
                    started.elapsed().as_secs() < 60,
                    "{function} is still {state:?} after 60 s"
                ),
            }
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
    }

    /// The `live` alias's version and the CodeSha256 of that version.
    async fn live(&self, function: &str) -> (String, String) {
        let alias = self
            .lambda()
            .get_alias()
            .function_name(function)
            .name("live")
            .send()
            .await
            .unwrap();
        let version = alias.function_version().unwrap().to_owned();
        let config = self
            .lambda()
            .get_function_configuration()
            .function_name(function)
            .qualifier(&version)
            .send()
            .await
            .unwrap();
        (version, config.code_sha256().unwrap().to_owned())
    }

    /// The functions of a deployed environment running `live`'s code, a `/healthz` that fails
    /// `failures` times first, and the outputs naming both: what Terraform would have left.
    async fn serve(
        &self,
        terraform: &FakeTerraform,
        live: &Zips,
        failures: usize,
    ) -> (String, String, Health) {
        let (api, worker) = self.create_functions(&live.api, &live.worker).await;
        let health = Health::start(failures);
        terraform.set_outputs(&outputs_json(&health.url, &api, &worker));
        (api, worker, health)
    }

    /// The xtask against the emulator, with settings for this account (`write_settings`).
    fn xtask(&self, terraform: &FakeTerraform) -> std::process::Command {
        let settings = terraform.dir().join("settings");
        if !settings.exists() {
            support::write_settings(&settings, &self.account, &[]);
        }
        let mut command = xtask(terraform, &self.emulator.endpoint);
        command.env("IMAGEGEN_SETTINGS_DIR", settings);
        command
    }
}

/// `terraform output -json` of an environment whose functions and API are `api`/`worker` and
/// `api_url`.
fn outputs_json(api_url: &str, api: &str, worker: &str) -> String {
    let output = |value: serde_json::Value| serde_json::json!({"sensitive": false, "value": value});
    serde_json::json!({
        "api_url": output(api_url.into()),
        "rest_api_id": output("abc123".into()),
        "usage_plan_ids": output(serde_json::json!({"standard": "up1"})),
        "api_function_name": output(api.into()),
        "worker_function_name": output(worker.into()),
        "bucket_name": output("images".into()),
        "table_names": output(serde_json::json!({"jobs": "j", "api_keys": "k", "counters": "c", "idempotency": "i", "webhooks": "w"})),
        "queue_url": output("http://sqs/q".into()),
        "dlq_url": output("http://sqs/dlq".into()),
        "gemini_secret_arn": output("arn:aws:secretsmanager:us-east-1:000000000000:secret:g".into()),
    })
    .to_string()
}

/// A stand-in for the deployed API's `/healthz`: 503 for the first `failures` requests, then
/// 200 `{"status":"ok"}`.
struct Health {
    url: String,
    hits: Arc<AtomicUsize>,
}

impl Health {
    fn start(failures: usize) -> Health {
        let server = tiny_http::Server::http("127.0.0.1:0").unwrap();
        let port = server.server_addr().to_ip().unwrap().port();
        let hits = Arc::new(AtomicUsize::new(0));
        let counter = hits.clone();
        std::thread::spawn(move || {
            for request in server.incoming_requests() {
                if request.url() != "/v1/healthz" {
                    let _ = request.respond(tiny_http::Response::empty(404));
                    continue;
                }
                let n = counter.fetch_add(1, Ordering::SeqCst);
                let response = if n < failures {
                    tiny_http::Response::from_string("warming up").with_status_code(503)
                } else {
                    tiny_http::Response::from_string(r#"{"status":"ok","version":"0.1.0"}"#)
                };
                let _ = request.respond(response);
            }
        });
        Health {
            url: format!("http://127.0.0.1:{port}/v1"),
            hits,
        }
    }

    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

/// The release ID a deploy printed (`-> release <id>`).
fn release_id(out: &Run) -> String {
    out.stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("-> release "))
        .and_then(|rest| rest.split([' ', ':']).next())
        .unwrap_or_else(|| panic!("no release ID in the output:\n{out}"))
        .to_owned()
}

/// Removes the plan file and its Markdown summary a `--plan-only` run left in the
/// environment's root.
fn remove_plan(env: &str, release: &str) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("environments")
        .join(env);
    for suffix in ["tfplan", "summary.md"] {
        let _ = std::fs::remove_file(root.join(format!("deploy-{}.{suffix}", &release[..12])));
    }
}

// ---------------------------------------------------------------------------------------------
// Tests

#[tokio::test(flavor = "multi_thread")]
async fn upload_stores_each_zip_once_under_its_content_address() {
    let world = world().await;
    let terraform = FakeTerraform::new("{}", PLAN_JSON);
    let zips = Zips::new(&world, "v1", &terraform);
    let (_api, _worker, _health) = world.serve(&terraform, &zips, 0).await;
    let github_output = terraform.dir().join("github-output");
    let deploy = || {
        let mut command = world.xtask(&terraform);
        command
            .args(["deploy", "--env", "staging", "--zips", zips.dir()])
            .env("GITHUB_OUTPUT", &github_output);
        run(command, None)
    };

    let first = deploy();
    assert!(first.success, "{first}");
    let id = release_id(&first);
    for (zip, name) in [(&zips.api, "api"), (&zips.worker, "worker")] {
        let key = format!("lambda/{}.zip", sha256_hex(zip));
        assert_eq!(
            world.object(&key).await.as_deref(),
            Some(zip.as_slice()),
            "{name} zip at {key}"
        );
    }
    let manifest = world.object(&format!("releases/{id}.json")).await.unwrap();
    assert_eq!(
        sha256_hex(&manifest),
        id,
        "the release ID is the manifest's hash"
    );
    let manifest: serde_json::Value = serde_json::from_slice(&manifest).unwrap();
    assert_eq!(manifest["arch"], "x86_64");
    assert_eq!(
        manifest["functions"]["worker"]["filebase64sha256"],
        sha256_base64(&zips.worker)
    );
    assert_eq!(
        first.stdout.matches("aws s3:PutObject").count(),
        3,
        "{first}"
    );
    assert_eq!(
        std::fs::read_to_string(&github_output).unwrap(),
        format!("release={id}\n")
    );

    // The same zips again: the same release, and nothing uploaded twice.
    let second = deploy();
    assert!(second.success, "{second}");
    assert_eq!(release_id(&second), id);
    assert_eq!(
        second.stdout.matches("aws s3:PutObject").count(),
        0,
        "{second}"
    );
    assert_eq!(
        second.stdout.matches("already there").count(),
        3,
        "{second}"
    );

    let deploy = ["version", "init", "plan", "show", "apply", "output"];
    assert_eq!(terraform.subcommands(), [deploy, deploy].concat());

    // --plan-only: the plan and its summary, without a state lock; nothing uploaded or applied.
    let fresh = Zips::new(&world, "v2", &terraform);
    let mut command = world.xtask(&terraform);
    command.args([
        "deploy",
        "--env",
        "staging",
        "--plan-only",
        "--zips",
        fresh.dir(),
    ]);
    let out = run(command, None);
    assert!(out.success, "{out}");
    let fresh_id = release_id(&out);
    let summary = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../environments/staging")
        .join(format!("deploy-{}.summary.md", &fresh_id[..12]));
    let markdown = std::fs::read_to_string(&summary).unwrap_or_default();
    remove_plan("staging", &fresh_id);
    assert!(!out.stdout.contains("PutObject"), "{out}");
    assert_eq!(
        world.object(&format!("releases/{fresh_id}.json")).await,
        None
    );
    let key = format!("lambda/{}.zip", sha256_hex(&fresh.api));
    assert_eq!(world.object(&key).await, None, "plan-only uploads nothing");
    assert_eq!(
        terraform.subcommands()[12..],
        ["version", "init", "plan", "show"]
    );
    let plan = terraform
        .calls()
        .into_iter()
        .rfind(|c| c.subcommand() == Some("plan"))
        .unwrap();
    assert!(plan.has("-lock=false"), "{plan:?}");
    assert!(
        markdown.starts_with("### Plan for staging")
            && markdown.contains(
                "| **DESTROY** | `module.observability.aws_cloudwatch_metric_alarm.legacy` |"
            ),
        "{markdown}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn staging_deploy_plans_the_release_applies_the_saved_plan_and_smokes() {
    let world = world().await;
    let terraform = FakeTerraform::new("{}", PLAN_JSON);
    let zips = Zips::new(&world, "v1", &terraform);
    // Terraform (the stand-in's apply does nothing) leaves the functions on the release.
    let (api, _worker, health) = world.serve(&terraform, &zips, 1).await;

    let mut command = world.xtask(&terraform);
    command.args(["deploy", "--env", "staging", "--zips", zips.dir()]);
    let out = run(command, None);
    assert!(out.success, "{out}");
    let id = release_id(&out);

    let calls = terraform.calls();
    let subcommands: Vec<_> = calls.iter().map(|c| c.subcommand().unwrap()).collect();
    assert_eq!(
        subcommands,
        ["version", "init", "plan", "show", "apply", "output"]
    );
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    for call in &calls[1..] {
        assert!(call.has("-chdir=environments/staging"), "{call:?}");
        assert_eq!(
            call.dir().canonicalize().unwrap(),
            root.join("environments/staging").canonicalize().unwrap()
        );
    }
    let [_, init, plan, show, apply, _] = &calls[..] else {
        unreachable!()
    };
    assert_eq!(
        init.value("-backend-config"),
        Some(format!("bucket=imagegen-tfstate-{}", world.account).as_str())
    );
    assert!(init.has("-input=false"));
    let plan_file = plan.value("-out").unwrap();
    assert_eq!(plan_file, format!("deploy-{}.tfplan", &id[..12]));
    let release = plan.release();
    assert_eq!(release["artifact_bucket"], world.bucket);
    for (bin, zip) in [("api", &zips.api), ("worker", &zips.worker)] {
        assert_eq!(
            release[&format!("{bin}_artifact_key")],
            format!("lambda/{}.zip", sha256_hex(zip))
        );
        assert_eq!(
            release[&format!("{bin}_artifact_sha256")],
            sha256_base64(zip)
        );
    }
    assert_eq!(release["lambda_architecture"], "x86_64");
    assert_eq!(release.len(), 6, "{release:?}");
    assert!(show.has("-json") && show.args.last().unwrap() == plan_file);
    // The saved plan is applied (the stand-in fails without it), and removed afterwards.
    assert_eq!(apply.args.last().unwrap(), plan_file);
    assert!(apply.has("-input=false"));
    assert!(!root.join("environments/staging").join(plan_file).exists());

    assert!(
        out.stdout
            .contains("Plan: 2 to add, 1 to change, 2 to destroy."),
        "{out}"
    );
    assert!(
        out.stdout
            .contains("module.observability.aws_cloudwatch_metric_alarm.legacy  DESTROY"),
        "{out}"
    );
    assert!(
        !out.stdout.contains("Type `"),
        "staging does not ask: {out}"
    );
    assert!(out.stdout.contains("runs the release's code"), "{out}");
    // One 503, then 200.
    assert_eq!(health.hits(), 2);
    assert!(out.stdout.contains("-> 200 ok, version 0.1.0"), "{out}");
    assert_eq!(world.live(&api).await.0, "1", "nothing to ship after apply");
}

#[tokio::test(flavor = "multi_thread")]
async fn prod_applies_only_after_its_name_is_typed() {
    let world = world().await;
    let terraform = FakeTerraform::new("{}", PLAN_JSON);
    let zips = Zips::new(&world, "v1", &terraform);
    let (_api, _worker, health) = world.serve(&terraform, &zips, 0).await;
    let repo = TempRepo::clean();
    let deploy = |answer: Option<&str>| {
        let mut command = world.xtask(&terraform);
        command.args(["deploy", "--env", "prod", "--zips", zips.dir()]);
        repo.apply(&mut command);
        run(command, Some(answer.unwrap_or("").as_bytes()))
    };

    for wrong in ["yes", "staging", "PROD", ""] {
        let out = deploy(Some(&format!("{wrong}\n")));
        assert!(!out.success, "`{wrong}` applied: {out}");
        assert!(
            out.stderr.contains("not confirmed") && out.stderr.contains("nothing was applied"),
            "{out}"
        );
        assert!(out.stdout.contains("Type `prod` to apply"), "{out}");
        let id = release_id(&out);
        let plan_file = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../environments/prod")
            .join(format!("deploy-{}.tfplan", &id[..12]));
        assert!(!plan_file.exists(), "a turned-down plan is removed");
    }
    // Stdin closed without an answer: no.
    let out = deploy(None);
    assert!(!out.success, "{out}");
    assert!(!terraform.subcommands().contains(&"apply".to_owned()));

    let out = deploy(Some("prod\n"));
    assert!(out.success, "{out}");
    let subcommands = terraform.subcommands();
    assert_eq!(
        subcommands[subcommands.len() - 6..],
        ["version", "init", "plan", "show", "apply", "output"]
    );
    assert_eq!(health.hits(), 1);
    // The release records the commit of the tree it came from.
    let id = release_id(&out);
    let manifest = world.object(&format!("releases/{id}.json")).await.unwrap();
    let manifest: serde_json::Value = serde_json::from_slice(&manifest).unwrap();
    assert_eq!(manifest["git_dirty"], false);
    assert_eq!(manifest["git_commit"].as_str().unwrap().len(), 40);
}

#[tokio::test(flavor = "multi_thread")]
async fn prod_refuses_a_tree_with_uncommitted_changes() {
    let world = world().await;
    let terraform = FakeTerraform::new("{}", PLAN_JSON);
    let zips = Zips::new(&world, "v1", &terraform);
    let repo = TempRepo::clean();
    repo.make_dirty();
    let mut command = world.xtask(&terraform);
    command.args([
        "deploy",
        "--env",
        "prod",
        "--auto-approve",
        "--zips",
        zips.dir(),
    ]);
    repo.apply(&mut command);
    let out = run(command, None);
    assert!(!out.success, "{out}");
    assert!(
        out.stderr.contains("prod deploys only from a clean tree")
            && out.stderr.contains("README.md"),
        "{out}"
    );
    assert_eq!(
        terraform.subcommands(),
        ["version"],
        "stopped in the preflight"
    );
    let key = format!("lambda/{}.zip", sha256_hex(&zips.api));
    assert_eq!(world.object(&key).await, None, "nothing uploaded");

    // Staging takes a dirty tree and says so in the release.
    let (_api, _worker, _health) = world.serve(&terraform, &zips, 0).await;
    let mut command = world.xtask(&terraform);
    command.args(["deploy", "--env", "staging", "--zips", zips.dir()]);
    repo.apply(&mut command);
    let out = run(command, None);
    assert!(out.success, "{out}");
    let id = release_id(&out);
    let manifest = world.object(&format!("releases/{id}.json")).await.unwrap();
    let manifest: serde_json::Value = serde_json::from_slice(&manifest).unwrap();
    assert_eq!(manifest["git_dirty"], true);
}

#[tokio::test(flavor = "multi_thread")]
async fn rollback_deploys_an_earlier_release_without_building_or_uploading() {
    let world = world().await;
    let terraform = FakeTerraform::new("{}", PLAN_JSON);
    let old = Zips::new(&world, "v1", &terraform);
    let (_api, _worker, _health) = world.serve(&terraform, &old, 0).await;

    // An earlier deploy made the release.
    let mut command = world.xtask(&terraform);
    command.args(["deploy", "--env", "staging", "--zips", old.dir()]);
    let out = run(command, None);
    assert!(out.success, "{out}");
    let id = release_id(&out);

    let repo = TempRepo::clean();
    let mut command = world.xtask(&terraform);
    command.args([
        "deploy",
        "--env",
        "prod",
        "--auto-approve",
        "--artifact",
        &id,
    ]);
    repo.apply(&mut command);
    let out = run(command, None);
    assert!(out.success, "{out}");
    assert!(!out.stdout.contains("PutObject"), "{out}");
    assert!(!out.stdout.contains("cargo xtask zip"), "{out}");
    assert!(
        out.stdout.contains(&format!(
            "aws s3:GetObject s3://{}/releases/{id}.json",
            world.bucket
        )),
        "{out}"
    );
    let plan = terraform
        .calls()
        .into_iter()
        .rfind(|c| c.subcommand() == Some("plan"))
        .unwrap();
    assert!(plan.has("-chdir=environments/prod"));
    let release = plan.release();
    assert_eq!(
        release["api_artifact_key"],
        format!("lambda/{}.zip", sha256_hex(&old.api))
    );
    assert_eq!(
        release["worker_artifact_sha256"],
        sha256_base64(&old.worker)
    );
    assert_eq!(
        terraform.subcommands()[6..],
        ["version", "init", "plan", "show", "apply", "output"]
    );

    // A release that does not exist is a clear error, before Terraform runs.
    let unknown = sha256_hex(world.tag.as_bytes());
    let before = terraform.calls().len();
    let mut command = world.xtask(&terraform);
    command.args(["deploy", "--env", "staging", "--artifact", &unknown]);
    let out = run(command, None);
    assert!(!out.success, "{out}");
    assert!(
        out.stderr.contains(&format!("no release {unknown}")),
        "{out}"
    );
    assert_eq!(
        terraform.calls().len(),
        before + 1,
        "only `terraform version`"
    );

    // --arch must match the release.
    let mut command = world.xtask(&terraform);
    command.args([
        "deploy",
        "--env",
        "staging",
        "--artifact",
        &id,
        "--arch",
        "arm64",
    ]);
    let out = run(command, None);
    assert!(!out.success, "{out}");
    assert!(out.stderr.contains("built for x86_64, not arm64"), "{out}");
}

#[tokio::test(flavor = "multi_thread")]
async fn code_only_updates_publishes_and_moves_live_then_changes_nothing() {
    let world = world().await;
    let terraform = FakeTerraform::new("{}", PLAN_JSON);
    let old = Zips::new(&world, "v1", &terraform);
    let new = Zips::new(&world, "v2", &terraform);
    let (api, worker, health) = world.serve(&terraform, &old, 0).await;
    let deploy = || {
        let mut command = world.xtask(&terraform);
        command.args([
            "deploy",
            "--env",
            "staging",
            "--code-only",
            "--zips",
            new.dir(),
        ]);
        run(command, None)
    };

    let out = deploy();
    assert!(out.success, "{out}");
    for (function, zip) in [(&api, &new.api), (&worker, &new.worker)] {
        assert_eq!(
            world.live(function).await,
            ("2".to_owned(), sha256_base64(zip)),
            "{function}"
        );
        assert!(
            out.stdout.contains(&format!("{function} live 1 -> 2")),
            "{out}"
        );
        assert!(
            out.stdout.contains(&format!(
                "aws lambda update-alias --function-name {function} --name live --function-version 1"
            )),
            "the rollback is printed: {out}"
        );
    }
    // The code came from the uploaded release.
    let key = format!("lambda/{}.zip", sha256_hex(&new.api));
    assert_eq!(
        world.object(&key).await.as_deref(),
        Some(new.api.as_slice())
    );
    // No plan, no apply: only the function names from the state.
    assert_eq!(terraform.subcommands(), ["version", "init", "output"]);
    assert_eq!(health.hits(), 1);

    // Again: already live, no new version.
    let again = deploy();
    assert!(again.success, "{again}");
    assert_eq!(
        again.stdout.matches("runs the release's code").count(),
        2,
        "{again}"
    );
    assert!(!again.stdout.contains("UpdateFunctionCode"), "{again}");
    assert_eq!(world.live(&api).await.0, "2");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_full_deploy_ships_the_release_when_other_code_is_live() {
    // Terraform last applied this release, then a code-only deploy shipped other code: the
    // plan has no code change (the stand-in's apply publishes nothing, as the real one would
    // not), and going live finds no version with the release's code and ships it.
    let world = world().await;
    let terraform = FakeTerraform::new("{}", PLAN_JSON);
    let release = Zips::new(&world, "v1", &terraform);
    let hotfix = Zips::new(&world, "hotfix", &terraform);
    let (api, worker, _health) = world.serve(&terraform, &hotfix, 0).await;

    let mut command = world.xtask(&terraform);
    command.args(["deploy", "--env", "staging", "--zips", release.dir()]);
    let out = run(command, None);
    assert!(out.success, "{out}");
    assert_eq!(
        out.stdout
            .matches("no published version has the release's code")
            .count(),
        2,
        "{out}"
    );
    for (function, zip) in [(&api, &release.api), (&worker, &release.worker)] {
        assert_eq!(
            world.live(function).await,
            ("2".to_owned(), sha256_base64(zip))
        );
    }
    assert_eq!(
        terraform.subcommands(),
        ["version", "init", "plan", "show", "apply", "output"]
    );
}

/// `terraform show -json` of a plan made for the release of `zips`: PLAN_JSON's changes, and
/// the `release` variable as `cargo xtask deploy` passes it.
fn plan_json_for(world: &World, zips: &Zips) -> String {
    let mut plan: serde_json::Value = serde_json::from_str(PLAN_JSON).unwrap();
    plan["variables"] = serde_json::json!({
        "settings": {"value": {"environment": "prod"}},
        "release": {"value": {
            "artifact_bucket": world.bucket,
            "api_artifact_key": format!("lambda/{}.zip", sha256_hex(&zips.api)),
            "api_artifact_sha256": sha256_base64(&zips.api),
            "worker_artifact_key": format!("lambda/{}.zip", sha256_hex(&zips.worker)),
            "worker_artifact_sha256": sha256_base64(&zips.worker),
            "lambda_architecture": "x86_64",
        }},
    });
    plan.to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn prod_applies_exactly_the_published_plan_of_the_release_or_nothing() {
    let world = world().await;
    let terraform = FakeTerraform::new("{}", PLAN_JSON);
    let zips = Zips::new(&world, "v1", &terraform);
    let (_api, _worker, health) = world.serve(&terraform, &zips, 0).await;
    terraform.set_plan(&plan_json_for(&world, &zips));

    // Staging deploys the release.
    let mut command = world.xtask(&terraform);
    command.args(["deploy", "--env", "staging", "--zips", zips.dir()]);
    let out = run(command, None);
    assert!(out.success, "{out}");
    let id = release_id(&out);

    // The plan job: prod planned with that release, stored under its SHA-256, summarised.
    let repo = TempRepo::clean();
    let github_output = terraform.dir().join("github-output");
    let step_summary = terraform.dir().join("step-summary");
    let mut command = world.xtask(&terraform);
    command
        .args(["deploy", "--env", "prod", "--artifact", &id])
        .args(["--plan-only", "--publish-plan"])
        .env("GITHUB_OUTPUT", &github_output)
        .env("GITHUB_STEP_SUMMARY", &step_summary);
    repo.apply(&mut command);
    let out = run(command, None);
    remove_plan("prod", &id);
    assert!(out.success, "{out}");
    let outputs = std::fs::read_to_string(&github_output).unwrap();
    let plan_sha = outputs
        .lines()
        .find_map(|l| l.strip_prefix("plan="))
        .unwrap_or_else(|| panic!("no plan= step output: {outputs}"))
        .to_owned();
    let stored = world
        .object(&format!("plans/prod/{plan_sha}.tfplan"))
        .await
        .expect("the plan is stored under its SHA-256");
    assert_eq!(sha256_hex(&stored), plan_sha);
    let summary = std::fs::read_to_string(&step_summary).unwrap();
    assert!(
        summary.starts_with("### Plan for prod")
            && summary.contains(&id)
            && summary.contains(&plan_sha)
            && summary.contains("| **DESTROY** |"),
        "{summary}"
    );
    let prod_applies = || {
        terraform
            .calls()
            .iter()
            .filter(|c| c.subcommand() == Some("apply") && c.has("-chdir=environments/prod"))
            .count()
    };
    assert_eq!(prod_applies(), 0, "the plan job applies nothing");

    let apply = |sha: &str| {
        let mut command = world.xtask(&terraform);
        command
            .args(["deploy", "--env", "prod", "--artifact", &id])
            .args(["--apply-plan", sha, "--auto-approve"]);
        repo.apply(&mut command);
        run(command, None)
    };

    // A plan nobody stored, and a stored object that is not the plan it is named after.
    let unknown = sha256_hex(world.tag.as_bytes());
    let out = apply(&unknown);
    assert!(!out.success, "{out}");
    assert!(
        out.stderr.contains(&format!("no plan {unknown} for prod")),
        "{out}"
    );
    world
        .s3()
        .put_object()
        .bucket(&world.bucket)
        .key(format!("plans/prod/{unknown}.tfplan"))
        .body(b"tampered".to_vec().into())
        .send()
        .await
        .unwrap();
    let out = apply(&unknown);
    assert!(!out.success, "{out}");
    assert!(out.stderr.contains("is not the reviewed plan"), "{out}");

    // A plan that deploys other artifacts than the release.
    let other = Zips::new(&world, "v2", &terraform);
    terraform.set_plan(&plan_json_for(&world, &other));
    let out = apply(&plan_sha);
    assert!(!out.success, "{out}");
    assert!(
        out.stderr
            .contains(&format!("plan {plan_sha} does not deploy release {id}")),
        "{out}"
    );
    assert_eq!(prod_applies(), 0, "nothing applied to prod so far");

    // The reviewed plan of the release: fetched, checked, shown, applied, then smoke.
    terraform.set_plan(&plan_json_for(&world, &zips));
    let before = terraform.calls().len();
    let hits = health.hits();
    let out = apply(&plan_sha);
    assert!(out.success, "{out}");
    let calls = &terraform.calls()[before..];
    let subcommands: Vec<_> = calls.iter().map(|c| c.subcommand().unwrap()).collect();
    assert_eq!(subcommands, ["version", "init", "show", "apply", "output"]);
    let reviewed = format!("reviewed-{}.tfplan", &plan_sha[..12]);
    assert_eq!(calls[3].args.last().unwrap(), &reviewed);
    assert!(calls[3].has("-chdir=environments/prod"));
    assert!(out.stdout.contains("SHA-256 checked"), "{out}");
    assert!(
        out.stdout
            .contains("Plan: 2 to add, 1 to change, 2 to destroy."),
        "{out}"
    );
    assert!(health.hits() > hits, "smoke ran");
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../environments/prod");
    assert!(
        !root.join(&reviewed).exists(),
        "the applied plan is removed"
    );

    // The state moved since the plan: Terraform refuses it, and the deploy says what to do.
    terraform.make_plans_stale();
    let out = apply(&plan_sha);
    assert!(!out.success, "{out}");
    assert!(
        out.stderr.contains("changed after this plan was made")
            && out.stderr.contains("nothing was applied"),
        "{out}"
    );
    assert!(
        !root.join(&reviewed).exists(),
        "a refused plan is removed too"
    );
}

/// A stand-in for Lambda's account settings in a new account (a limit of 10 concurrent
/// executions, all unreserved; functions reserve nothing), which the emulator does not
/// implement: the concurrency check is the only Lambda call before the refusal.
fn new_account_lambda() -> String {
    let server = tiny_http::Server::http("127.0.0.1:0").unwrap();
    let port = server.server_addr().to_ip().unwrap().port();
    std::thread::spawn(move || {
        for request in server.incoming_requests() {
            let body = if request.url().starts_with("/2016-08-19/account-settings") {
                r#"{"AccountLimit": {"ConcurrentExecutions": 10, "UnreservedConcurrentExecutions": 10,
                    "CodeSizeUnzipped": 262144000, "CodeSizeZipped": 52428800, "TotalCodeSize": 80530636800},
                    "AccountUsage": {"FunctionCount": 0, "TotalCodeSize": 0}}"#
            } else {
                "{}"
            };
            let json = tiny_http::Header::from_bytes("content-type", "application/json").unwrap();
            let _ = request.respond(tiny_http::Response::from_string(body).with_header(json));
        }
    });
    format!("http://127.0.0.1:{port}")
}

#[tokio::test(flavor = "multi_thread")]
async fn the_preflight_refuses_what_the_account_cannot_take_before_anything_changes() {
    let world = world().await;
    let terraform = FakeTerraform::new("{}", PLAN_JSON);
    let zips = Zips::new(&world, "v1", &terraform);
    let repo = TempRepo::clean();
    // Secrets Manager is regional: this test's Gemini secrets live in a region of their own.
    let region = "eu-central-1";
    let in_region = format!("\"{region}\"");
    let secrets = aws_sdk_secretsmanager::Client::from_conf(
        aws_sdk_secretsmanager::config::Builder::from(&world.sdk)
            .region(aws_sdk_secretsmanager::config::Region::new(region))
            .build(),
    );
    let mut cases = 0;
    let mut plan = |env: &str, overrides: &[(&str, &str)], vars: &[(&str, &str)]| {
        cases += 1;
        let settings = terraform.dir().join(format!("case-{cases}"));
        support::write_settings(&settings, &world.account, overrides);
        let mut command = xtask(&terraform, &world.emulator.endpoint);
        command
            .args(["deploy", "--env", env, "--plan-only", "--zips", zips.dir()])
            .env("IMAGEGEN_SETTINGS_DIR", &settings)
            .env("AWS_REGION", region);
        for (name, value) in vars {
            command.env(name, value);
        }
        repo.apply(&mut command);
        let out = run(command, None);
        if out.success {
            remove_plan(env, &release_id(&out));
        }
        out
    };
    let base = [("aws_region", in_region.as_str())];
    let refused_before_terraform = |out: &Run, calls_before: usize| {
        assert!(!out.success, "{out}");
        assert!(out.stderr.contains("nothing was changed"), "{out}");
        assert_eq!(
            terraform.calls().len(),
            calls_before + 1,
            "only `terraform version` ran: {out}"
        );
    };

    // Before the first deploy the Gemini key's secret does not exist: a warning.
    let name = "imagegen/prod/gemini-api-key";
    let _ = secrets
        .delete_secret()
        .secret_id(name)
        .force_delete_without_recovery(true)
        .send()
        .await;
    let out = plan("prod", &base, &[]);
    assert!(out.success, "{out}");
    assert!(out.stdout.contains("!! warning: first deploy"), "{out}");
    assert!(out.stdout.contains("-> ok: account"), "{out}");

    // Deployed, but the key was never set: prod refuses, staging warns.
    secrets.create_secret().name(name).send().await.unwrap();
    let before = terraform.calls().len();
    let out = plan("prod", &base, &[]);
    refused_before_terraform(&out, before);
    assert!(
        out.stderr
            .contains("the Gemini API key of prod has no value: run `cargo xtask secrets set-gemini-key --env prod` first"),
        "{out}"
    );
    secrets
        .create_secret()
        .name("imagegen/staging/gemini-api-key")
        .send()
        .await
        .ok();
    let out = plan("staging", &base, &[]);
    assert!(out.success, "{out}");
    assert!(
        out.stdout
            .contains("!! warning: the Gemini API key has no value"),
        "{out}"
    );

    // Once set, prod goes on.
    secrets
        .put_secret_value()
        .secret_id(name)
        .secret_string("AIza-test")
        .send()
        .await
        .unwrap();
    let out = plan("prod", &base, &[]);
    assert!(out.success, "{out}");
    assert!(
        out.stdout.contains("-> ok: the Gemini API key has a value"),
        "{out}"
    );

    // Credentials of another region or account than the settings'.
    let before = terraform.calls().len();
    let out = plan("prod", &[], &[]);
    refused_before_terraform(&out, before);
    assert!(
        out.stderr.contains(&format!("the AWS region is {region}"))
            && out.stderr.contains("set AWS_REGION="),
        "{out}"
    );
    let before = terraform.calls().len();
    let out = plan(
        "prod",
        &[base[0], ("aws_account_id", "\"111122223333\"")],
        &[],
    );
    refused_before_terraform(&out, before);
    assert!(
        out.stderr.contains(&format!(
            "these credentials are for account {}, but environments/prod/terraform.tfvars deploys to 111122223333",
            world.account
        )),
        "{out}"
    );

    // A custom domain: its zone must exist and hold the domain.
    let route53 = aws_sdk_route53::Client::new(&world.sdk);
    let zone_name = format!("{}.imagegen.dev", world.tag);
    let zone = route53
        .create_hosted_zone()
        .name(&zone_name)
        .caller_reference(&world.tag)
        .send()
        .await
        .unwrap();
    let zone_id = zone
        .hosted_zone()
        .unwrap()
        .id()
        .trim_start_matches("/hostedzone/")
        .to_owned();
    let domain = format!("\"api.{zone_name}\"");
    let quoted_zone = format!("\"{zone_id}\"");
    let good = [
        base[0],
        ("domain_enabled", "true"),
        ("domain_name", domain.as_str()),
        ("hosted_zone_id", quoted_zone.as_str()),
    ];
    let out = plan("prod", &good, &[]);
    assert!(out.success, "{out}");
    assert!(
        out.stdout
            .contains(&format!("aws route53:GetHostedZone {zone_id}"))
            && out.stdout.contains(&format!("in hosted zone {zone_id}")),
        "{out}"
    );
    let missing = [
        base[0],
        ("domain_enabled", "true"),
        ("domain_name", domain.as_str()),
        ("hosted_zone_id", "\"Z1NOSUCHZONE0\""),
    ];
    let before = terraform.calls().len();
    let out = plan("prod", &missing, &[]);
    refused_before_terraform(&out, before);
    assert!(
        out.stderr.contains("hosted zone Z1NOSUCHZONE0 (hosted_zone_id in environments/prod/terraform.tfvars) does not exist"),
        "{out}"
    );

    // A new account's concurrency quota cannot take prod's reservations.
    let lambda = new_account_lambda();
    let reserving = [
        base[0],
        ("api_reserved_concurrency", "100"),
        ("worker_reserved_concurrency", "25"),
    ];
    let before = terraform.calls().len();
    let out = plan("prod", &reserving, &[("AWS_ENDPOINT_URL_LAMBDA", &lambda)]);
    refused_before_terraform(&out, before);
    assert!(
        out.stderr.contains(
            "reserves 125 concurrent executions (api 100, worker 25), but the account can reserve 0"
        ) && out.stderr.contains("its limit is 10"),
        "{out}"
    );
    // Staging, reserving nothing, does not even ask.
    let out = plan("staging", &base, &[("AWS_ENDPOINT_URL_LAMBDA", &lambda)]);
    assert!(out.success, "{out}");
    assert!(!out.stdout.contains("GetAccountSettings"), "{out}");
    assert!(
        out.stdout
            .contains("-> ok: no reserved concurrency asked for"),
        "{out}"
    );
}

/// A stand-in for CloudWatch's DescribeAlarms: the emulator does not speak the SDK's CBOR
/// protocol (smithy rpc-v2-cbor). It answers the alarms it was given, each in the state the
/// test last set.
struct Alarms {
    url: String,
    states: Arc<std::sync::Mutex<Vec<(String, String)>>>,
}

impl Alarms {
    fn start(names: &[&str]) -> Alarms {
        let states: Vec<(String, String)> = names
            .iter()
            .map(|n| ((*n).to_owned(), "OK".to_owned()))
            .collect();
        let states = Arc::new(std::sync::Mutex::new(states));
        let shared = states.clone();
        let server = tiny_http::Server::http("127.0.0.1:0").unwrap();
        let port = server.server_addr().to_ip().unwrap().port();
        std::thread::spawn(move || {
            for request in server.incoming_requests() {
                if !request.url().ends_with("/operation/DescribeAlarms") {
                    let _ = request.respond(tiny_http::Response::empty(404));
                    continue;
                }
                let alarms = shared.lock().unwrap().clone();
                let mut body = aws_smithy_cbor::Encoder::new(Vec::new());
                body.map(1).str("MetricAlarms").array(alarms.len());
                for (name, state) in &alarms {
                    body.map(2)
                        .str("AlarmName")
                        .str(name)
                        .str("StateValue")
                        .str(state);
                }
                let header = |k: &str, v: &str| tiny_http::Header::from_bytes(k, v).unwrap();
                let response = tiny_http::Response::from_data(body.into_writer())
                    .with_header(header("content-type", "application/cbor"))
                    .with_header(header("smithy-protocol", "rpc-v2-cbor"));
                let _ = request.respond(response);
            }
        });
        Alarms {
            url: format!("http://127.0.0.1:{port}"),
            states,
        }
    }

    fn set(&self, name: &str, state: &str) {
        for (n, s) in self.states.lock().unwrap().iter_mut() {
            if n == name {
                *s = state.to_owned();
            }
        }
    }
}

/// The `live` alias of `function`: its version and the weights of any other.
async fn alias_routing(world: &World, function: &str) -> (String, Vec<(String, f64)>) {
    let alias = world
        .lambda()
        .get_alias()
        .function_name(function)
        .name("live")
        .send()
        .await
        .unwrap();
    let weights = alias
        .routing_config()
        .and_then(|r| r.additional_version_weights())
        .map(|w| w.iter().map(|(v, w)| (v.clone(), *w)).collect())
        .unwrap_or_default();
    (alias.function_version().unwrap().to_owned(), weights)
}

/// Waits (up to 30 s) until `function`'s `live` alias sends a share to another version.
async fn canary_seen(world: &World, function: &str) -> (String, Vec<(String, f64)>) {
    let started = std::time::Instant::now();
    loop {
        let routing = alias_routing(world, function).await;
        if !routing.1.is_empty() {
            return routing;
        }
        assert!(
            started.elapsed().as_secs() < 30,
            "{function} never sent a share to a canary"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_canary_bakes_then_promotes_or_rolls_back_at_an_alarm_and_rollback_and_destroy_work() {
    let world = world().await;
    let terraform = FakeTerraform::new("{}", PLAN_JSON);
    let v1 = Zips::new(&world, "v1", &terraform);
    let v2 = Zips::new(&world, "v2", &terraform);
    let v3 = Zips::new(&world, "v3", &terraform);
    let (api, worker, health) = world.serve(&terraform, &v1, 0).await;
    // The alarms a staging canary watches (modules/observability makes them).
    let alarms = Alarms::start(&[
        "imagegen-staging-api-5xx",
        "imagegen-staging-api-errors",
        "imagegen-staging-worker-errors",
        "imagegen-staging-api-throttles",
        "imagegen-staging-worker-throttles",
    ]);
    let canary = |zips: &Zips| {
        let mut command = world.xtask(&terraform);
        command.args(["deploy", "--env", "staging", "--zips", zips.dir()]);
        command.args(["--canary", "10", "--bake", "4s"]);
        command.env("AWS_ENDPOINT_URL_CLOUDWATCH", &alarms.url);
        tokio::task::spawn_blocking(move || run(command, None))
    };

    // v2 by canary: 10 % on the new version while it bakes, then all of it.
    let deploy = canary(&v2);
    let (stable, weights) = canary_seen(&world, &api).await;
    let out = deploy.await.unwrap();
    assert!(out.success, "{out}");
    assert_eq!(stable, "1", "the canary keeps live on the old version");
    assert_eq!(
        weights,
        [("2".to_owned(), 0.1)],
        "and sends 10 % to the new one"
    );
    assert_eq!(alias_routing(&world, &api).await, ("2".to_owned(), vec![]));
    assert_eq!(world.live(&worker).await.1, sha256_base64(&v2.worker));
    for step in ["] canary", "] bake", "] promote", "no alarm in"] {
        assert!(out.stdout.contains(step), "no `{step}`: {out}");
    }

    // v3 by canary, and an alarm fires during the bake: every function goes back to v2.
    let deploy = canary(&v3);
    let (stable, weights) = canary_seen(&world, &worker).await;
    assert_eq!((stable.as_str(), weights.len()), ("2", 1));
    alarms.set("imagegen-staging-api-errors", "ALARM");
    let out = deploy.await.unwrap();
    assert!(!out.success, "{out}");
    assert!(
        out.stderr.contains(
            "was rolled back: alarm imagegen-staging-api-errors went into ALARM during the bake"
        ),
        "{out}"
    );
    assert!(out.stdout.contains("] roll back"), "{out}");
    assert_eq!(alias_routing(&world, &api).await, ("2".to_owned(), vec![]));
    assert_eq!(
        alias_routing(&world, &worker).await,
        ("2".to_owned(), vec![])
    );

    // With the alarm still firing, a canary does not even start.
    let out = canary(&v3).await.unwrap();
    assert!(!out.success, "{out}");
    assert!(
        out.stderr.contains("is in ALARM before the canary starts"),
        "{out}"
    );
    assert_eq!(alias_routing(&world, &api).await, ("2".to_owned(), vec![]));
    alarms.set("imagegen-staging-api-errors", "OK");

    // rollback: live back on the version before v2's, and it says which.
    let hits = health.hits();
    let mut command = world.xtask(&terraform);
    command.args(["rollback", "--env", "staging"]);
    let out = run(command, None);
    assert!(out.success, "{out}");
    assert!(
        out.stdout
            .contains(&format!("-> {api} live 2 -> 1 (the version it ran before)")),
        "{out}"
    );
    assert_eq!(
        world.live(&api).await,
        ("1".to_owned(), sha256_base64(&v1.api))
    );
    assert_eq!(world.live(&worker).await.0, "1");
    assert!(health.hits() > hits, "rollback ends with the smoke check");

    // destroy: only after the environment's name is typed; prod not without --allow-prod.
    let destroys = || {
        terraform
            .calls()
            .into_iter()
            .filter(|c| c.subcommand() == Some("destroy"))
            .collect::<Vec<_>>()
    };
    let mut command = world.xtask(&terraform);
    command.args(["destroy", "--env", "staging"]);
    let out = run(command, Some(b"prod\n"));
    assert!(!out.success, "{out}");
    assert!(
        out.stderr.contains("not confirmed") && out.stderr.contains("nothing was destroyed"),
        "{out}"
    );
    assert!(destroys().is_empty());
    let mut command = world.xtask(&terraform);
    command.args(["destroy", "--env", "staging"]);
    let out = run(command, Some(b"staging\n"));
    assert!(out.success, "{out}");
    let destroyed = destroys();
    assert_eq!(destroyed.len(), 1);
    assert!(
        destroyed[0].has("-chdir=environments/staging") && destroyed[0].has("-auto-approve"),
        "{:?}",
        destroyed[0]
    );
    assert_eq!(destroyed[0].release()["lambda_architecture"], "x86_64");
    let before = terraform.calls().len();
    let mut command = world.xtask(&terraform);
    command.args(["destroy", "--env", "prod"]);
    let out = run(command, Some(b"prod\n"));
    assert!(!out.success, "{out}");
    assert!(out.stderr.contains("--allow-prod"), "{out}");
    assert_eq!(terraform.calls().len(), before, "nothing ran");
}
