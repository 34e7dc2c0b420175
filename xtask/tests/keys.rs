//! `cargo xtask keys` and `cargo xtask secrets`, run as a user runs them (the real binary, a
//! fake `terraform`), against the AWS emulator `cargo xtask integration` starts.
//!
//! Each test has its own tables, secret, REST API and usage plan (`imagegen_tests::aws::TestEnv`
//! plus the gateway below), and checks both layers a request meets: the service (its router
//! on the same tables authenticates the key) and API Gateway (a key with the same value on the
//! plan).

// Assertions unwrap, in helpers too (clippy's allow-unwrap-in-tests covers only #[test] fns).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use axum::http::{Method, StatusCode};
use imagegen::domain::keys::{ApiKey, KeyStatus, parse_presented};
use imagegen::store::all_keys;
use imagegen_tests::aws::{FAKE_GEMINI_KEY, STAGE, TestEnv, rest_api_with_plan};
use serde_json::json;
use support::{FakeTerraform, Run, run, xtask};

/// A test's environment: the service's resources (TestEnv), a REST API with a stage and a
/// usage plan on it, and a fake `terraform` whose outputs name them.
struct Fixture {
    env: TestEnv,
    apigw: aws_sdk_apigateway::Client,
    rest_api_id: String,
    plan_id: String,
    terraform: FakeTerraform,
}

impl Fixture {
    async fn new() -> Self {
        Self::with_plan(None).await
    }

    /// `plan_override` replaces the usage plan id the outputs give (a plan that does not exist).
    async fn with_plan(plan_override: Option<&str>) -> Self {
        let env = TestEnv::new().await.unwrap();
        let apigw = aws_sdk_apigateway::Client::new(&env.sdk);
        let prefix = env.resources.bucket.trim_end_matches("-images").to_owned();
        let (rest_api_id, plan_id) = rest_api_with_plan(&apigw, &prefix).await.unwrap();
        let tables = &env.resources.tables;
        let outputs = json!({
            "api_url": output(format!(
                "https://{rest_api_id}.execute-api.{}.amazonaws.com/{STAGE}",
                imagegen_tests::aws::env::REGION
            )),
            "invoke_url": output("unused"),
            "rest_api_id": output(&rest_api_id),
            "usage_plan_ids": output(json!({"standard": plan_override.unwrap_or(&plan_id)})),
            "api_function_name": output(format!("{prefix}-api")),
            "worker_function_name": output(format!("{prefix}-worker")),
            "bucket_name": output(&env.resources.bucket),
            "table_names": output(json!({
                "jobs": tables.jobs, "api_keys": tables.api_keys,
                "counters": tables.counters, "idempotency": tables.idempotency,
                "webhooks": tables.webhooks,
            })),
            "queue_url": output(&env.resources.queue_url),
            "dlq_url": output(&env.dlq_url),
            "gemini_secret_arn": output(&env.secret_arn),
        });
        let terraform = FakeTerraform::new(&outputs.to_string(), "{}");
        Fixture {
            env,
            apigw,
            rest_api_id,
            plan_id,
            terraform,
        }
    }

    /// `cargo xtask <args>` with `stdin` piped in (or none).
    fn run(&self, args: &[&str], stdin: Option<&[u8]>) -> Run {
        let mut command = xtask(&self.terraform, &self.env.emulator.endpoint);
        command.args(args);
        run(command, stdin)
    }

    /// `keys create` for `tenant` in staging: the key it printed.
    fn create_key(&self, tenant: &str) -> String {
        self.keys(&["create", "--env", "staging", "--tenant", tenant])
            .success()
            .stdout
            .trim()
            .to_owned()
    }

    fn keys(&self, args: &[&str]) -> Run {
        let mut all = vec!["keys"];
        all.extend_from_slice(args);
        self.run(&all, None)
    }

    /// Status of `GET /v1/usage` through the service's router on the same tables.
    async fn service_status(&self, key: &str) -> StatusCode {
        self.env
            .call(Method::GET, "/v1/usage", key, None)
            .await
            .unwrap()
            .status
    }

    async fn stored(&self) -> Vec<ApiKey> {
        all_keys(&*self.env.app.store).await.unwrap()
    }

    /// The gateway keys named for `key_id`: (API Gateway id, value, enabled).
    async fn gateway_keys(&self, key_id: &str) -> Vec<(String, String, bool)> {
        let name = format!("imagegen-staging-{key_id}");
        let out = self
            .apigw
            .get_api_keys()
            .include_values(true)
            .limit(500)
            .send()
            .await
            .unwrap();
        out.items()
            .iter()
            .filter(|k| k.name() == Some(name.as_str()))
            .map(|k| {
                (
                    k.id().unwrap().to_owned(),
                    k.value().unwrap_or_default().to_owned(),
                    k.enabled(),
                )
            })
            .collect()
    }

    /// The gateway key ids attached to the plan (moto keeps deleted keys here: callers
    /// intersect with `gateway_keys`).
    async fn on_plan(&self) -> Vec<String> {
        let out = self
            .apigw
            .get_usage_plan_keys()
            .usage_plan_id(&self.plan_id)
            .send()
            .await
            .unwrap();
        out.items()
            .iter()
            .filter_map(|k| k.id().map(str::to_owned))
            .collect()
    }

    /// The values of `key_id`'s gateway keys that are enabled and on the plan.
    async fn registered_values(&self, key_id: &str) -> Vec<String> {
        let on_plan = self.on_plan().await;
        let mut values: Vec<String> = self
            .gateway_keys(key_id)
            .await
            .into_iter()
            .filter(|(id, _, enabled)| *enabled && on_plan.contains(id))
            .map(|(_, value, _)| value)
            .collect();
        values.sort();
        values
    }
}

fn output(value: impl serde::Serialize) -> serde_json::Value {
    json!({"sensitive": false, "type": "string", "value": value})
}

/// The key id of a printed key.
fn key_id(key: &str) -> String {
    parse_presented(key).unwrap().0.to_owned()
}

#[tokio::test]
async fn create_stores_and_registers_one_key_and_shows_its_secret_once() {
    let f = Fixture::new().await;
    let run = f
        .keys(&[
            "create",
            "--env",
            "staging",
            "--tenant",
            "acme",
            "--scopes",
            "jobs:read,usage:read",
            "--rate-per-minute",
            "30",
        ])
        .success();

    // Into a pipe, stdout is the key and nothing else.
    let key = run.stdout.strip_suffix('\n').unwrap().to_owned();
    assert!(!key.contains('\n'), "{}", run.stdout);
    let id = key_id(&key);
    let (_, secret) = parse_presented(&key).unwrap();
    assert!(!run.stderr.contains(secret), "the secret leaked to stderr");
    assert!(run.stderr.contains(&format!(
        "https://{}.execute-api.us-east-1.amazonaws.com/v1/v1/usage\" -H \"x-api-key: $KEY\"",
        f.rest_api_id
    )));

    // The service: the store holds it (a digest, its limits) and the router authenticates it.
    let stored = f.stored().await;
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].key_id, id);
    assert_eq!(stored[0].tenant, "acme");
    assert_eq!(stored[0].limits.rate_per_minute, Some(30));
    assert_eq!(f.service_status(&key).await, StatusCode::OK);

    // The gateway: one key with exactly that value, enabled, on the plan.
    assert_eq!(f.registered_values(&id).await, std::slice::from_ref(&key));

    // The environment was found as a user's would be: init on the account's state bucket, then
    // the outputs, in the environment's root.
    let account = support::account_id(&f.env.sdk).await;
    let calls = f.terraform.calls();
    let args: Vec<Vec<&str>> = calls
        .iter()
        .map(|c| c.args.iter().map(String::as_str).collect())
        .collect();
    let bucket = format!("-backend-config=bucket=imagegen-tfstate-{account}");
    assert_eq!(
        args,
        [
            vec![
                "-chdir=environments/staging",
                "init",
                "-input=false",
                "-reconfigure",
                bucket.as_str()
            ],
            vec!["-chdir=environments/staging", "output", "-json"],
        ]
    );
    assert_eq!(calls[0].cwd, imagegen_tests::project_root());

    // `list` shows it, registered, and never its secret or digest.
    let list = f.keys(&["list", "--env", "staging"]).success();
    let line = list.stdout.lines().find(|l| l.contains(&id)).unwrap();
    for column in [
        "acme",
        "jobs:read,usage:read",
        " active ",
        "never",
        "registered",
    ] {
        assert!(line.contains(column), "{column} not in: {line}");
    }
    assert!(!list.shows(secret) && !list.shows(&stored[0].secret_sha256));
}

#[tokio::test]
async fn rotation_keeps_both_secrets_for_the_grace_then_prune_drops_the_old_one() {
    let f = Fixture::new().await;
    let old = f.create_key("acme");
    let id = key_id(&old);

    let rotated = f
        .keys(&["rotate", "--env", "staging", &id, "--grace", "8s"])
        .success();
    let new = rotated.stdout.trim().to_owned();
    assert_eq!(key_id(&new), id);
    assert_ne!(new, old);
    assert!(!rotated.stderr.contains(parse_presented(&new).unwrap().1));

    // During the grace both work at the service, and the gateway has both on the plan.
    assert_eq!(f.service_status(&old).await, StatusCode::OK);
    assert_eq!(f.service_status(&new).await, StatusCode::OK);
    let mut both = vec![old.clone(), new.clone()];
    both.sort();
    assert_eq!(f.registered_values(&id).await, both);
    let list = f.keys(&["list", "--env", "staging"]).success();
    let line = list.stdout.lines().find(|l| l.contains(&id)).unwrap();
    assert!(
        line.contains(" rotating ") && line.contains("registered"),
        "{line}"
    );

    // After the grace the service refuses the old secret, and the next command prunes it.
    let until = f.stored().await[0].previous.as_ref().unwrap().valid_until;
    let wait = until - time::OffsetDateTime::now_utc() + time::Duration::milliseconds(300);
    tokio::time::sleep(wait.try_into().unwrap_or_default()).await;
    assert_eq!(f.service_status(&old).await, StatusCode::UNAUTHORIZED);
    let list = f.keys(&["list", "--env", "staging"]).success();
    assert!(
        list.stderr.contains("pruned API Gateway key")
            && list.stderr.contains("no longer accepts this secret"),
        "{}",
        list.stderr
    );
    let line = list.stdout.lines().find(|l| l.contains(&id)).unwrap();
    assert!(
        line.contains(" active ") && line.contains("registered"),
        "{line}"
    );
    assert_eq!(f.registered_values(&id).await, std::slice::from_ref(&new));
    assert_eq!(f.gateway_keys(&id).await.len(), 1);
    assert_eq!(f.service_status(&new).await, StatusCode::OK);
}

#[tokio::test]
async fn revoke_stops_the_key_at_the_service_and_deletes_it_from_the_gateway() {
    let f = Fixture::new().await;
    let old = f.create_key("acme");
    let id = key_id(&old);

    // Without --grace the grace is the deployed API function's; there is none here, so the
    // command says so and changes nothing.
    let run = f.keys(&["rotate", "--env", "staging", &id]).failure();
    assert!(
        run.error().contains("-api:live") && run.error().contains("pass --grace"),
        "{}",
        run.error()
    );
    assert_eq!(f.stored().await[0].version, 1);

    let new = f
        .keys(&["rotate", "--env", "staging", &id, "--grace", "1h"])
        .success()
        .stdout
        .trim()
        .to_owned();
    assert_eq!(f.gateway_keys(&id).await.len(), 2);

    let run = f.keys(&["revoke", "--env", "staging", &id]).success();
    assert!(run.stdout.is_empty(), "{}", run.stdout);
    assert!(
        run.stderr.contains("2 API Gateway key(s) deleted")
            && run.stderr.matches("): the key is revoked").count() == 2,
        "{}",
        run.stderr
    );
    for key in [&old, &new] {
        assert_eq!(f.service_status(key).await, StatusCode::UNAUTHORIZED);
    }
    assert!(f.gateway_keys(&id).await.is_empty());
    assert_eq!(
        f.stored().await[0].status(time::OffsetDateTime::now_utc()),
        KeyStatus::Revoked
    );
    let list = f.keys(&["list", "--env", "staging"]).success();
    let line = list.stdout.lines().find(|l| l.contains(&id)).unwrap();
    assert!(line.contains(" revoked ") && line.ends_with('-'), "{line}");

    // Revoking again is harmless; a revoked key cannot be rotated back to life.
    f.keys(&["revoke", "--env", "staging", &id]).success();
    let run = f
        .keys(&["rotate", "--env", "staging", &id, "--grace", "0"])
        .failure();
    assert!(run.error().contains("is revoked"), "{}", run.error());
}

#[tokio::test]
async fn a_gateway_failure_leaves_no_usable_key_behind() {
    let f = Fixture::with_plan(Some("nosuchplan")).await;
    let run = f
        .keys(&["create", "--env", "staging", "--tenant", "acme"])
        .failure();
    assert!(run.stdout.is_empty(), "a key was shown: {}", run.stdout);
    let error = run.error();
    assert!(
        error.contains("usage plan nosuchplan") && error.contains("revoked in the store"),
        "{error}"
    );
    let stored = f.stored().await;
    assert_eq!(stored.len(), 1);
    let now = time::OffsetDateTime::now_utc();
    assert_eq!(stored[0].status(now), KeyStatus::Revoked);
    assert!(f.gateway_keys(&stored[0].key_id).await.is_empty());
}

#[tokio::test]
async fn requests_the_domain_refuses_write_nothing() {
    let f = Fixture::new().await;
    let run = f
        .keys(&[
            "create",
            "--env",
            "staging",
            "--tenant",
            "Acme Corp",
            "--burst",
            "0",
            "--expires-at",
            "2020-01-01T00:00:00Z",
        ])
        .failure();
    let error = run.error();
    for rule in ["tenant must be", "burst must be at least 1", "expires_at"] {
        assert!(error.contains(rule), "{rule} not in: {error}");
    }
    let run = f
        .keys(&[
            "create", "--env", "staging", "--tenant", "acme", "--plan", "premium",
        ])
        .failure();
    assert!(
        run.error().contains("no usage plan `premium`"),
        "{}",
        run.error()
    );
    let run = f
        .keys(&["revoke", "--env", "staging", "0123456789ab"])
        .failure();
    assert!(
        run.error().contains("no key 0123456789ab"),
        "{}",
        run.error()
    );
    assert!(f.stored().await.is_empty());
}

async fn secret_value(f: &Fixture) -> (String, String) {
    let out = aws_sdk_secretsmanager::Client::new(&f.env.sdk)
        .get_secret_value()
        .secret_id(&f.env.secret_arn)
        .send()
        .await
        .unwrap();
    (
        out.secret_string().unwrap().to_owned(),
        out.version_id().unwrap().to_owned(),
    )
}

#[tokio::test]
async fn set_gemini_key_stores_piped_stdin_and_never_shows_it() {
    let f = Fixture::new().await;
    let key = "AIzaSyTest-rotated_gemini-key-0123456789";
    let run = f
        .run(
            &["secrets", "set-gemini-key", "--env", "staging"],
            Some(format!("  {key}  \n").as_bytes()),
        )
        .success();
    let (stored, version) = secret_value(&f).await;
    assert_eq!(stored, key);
    let fingerprint = &imagegen::domain::keys::sha256_hex(key)[..12];
    assert_eq!(
        run.stdout,
        format!("version {version}  fingerprint sha256:{fingerprint}\n")
    );
    assert!(!run.shows(key) && !run.shows("AIzaSyTest"));
    for call in f.terraform.calls() {
        assert!(!call.args.iter().any(|a| a.contains(key)), "{call:?}");
    }
}

#[tokio::test]
async fn set_gemini_key_refuses_empty_multiline_control_and_argument_input() {
    let f = Fixture::new().await;
    for (input, says) in [
        (&b""[..], "no key on stdin"),
        (b"  \n\t\n", "no key on stdin"),
        (b"AIzaSyOne\nAIzaSyTwo\n", "several lines"),
        (b"AIzaSy\x07Bell\n", "printable ASCII only"),
    ] {
        let run = f
            .run(
                &["secrets", "set-gemini-key", "--env", "staging"],
                Some(input),
            )
            .failure();
        assert!(run.error().contains(says), "{}", run.error());
        assert!(!run.shows("AIzaSy"));
    }
    let run = f
        .run(
            &[
                "secrets",
                "set-gemini-key",
                "--env",
                "staging",
                "AIzaSyInArgv",
            ],
            None,
        )
        .failure();
    assert!(
        run.error().contains("not as an argument"),
        "{}",
        run.error()
    );
    assert!(!run.shows("AIzaSyInArgv"));
    assert_eq!(secret_value(&f).await.0, FAKE_GEMINI_KEY);
}
