//! `cargo xtask deploy --dry-run`: the whole sequence of commands and AWS calls, printed and
//! not run. The output is a snapshot (`tests/snapshots/`): a change to the deploy's sequence
//! shows up in review as a change to these files.
//!
//! No emulator: the AWS endpoint is a closed port and `terraform` a recording stand-in, so a
//! dry run that ran anything would fail or leave a call behind.
#![allow(clippy::unwrap_used, reason = "tests: a panic is the failure report")]

mod support;

use support::{FakeTerraform, run, xtask};

/// Nothing listens here: any AWS call would fail.
const NO_AWS: &str = "http://127.0.0.1:9";
const RELEASE: &str = "3f1c0d9a2b7e4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5";

fn dry_run(args: &[&str]) -> String {
    let terraform = FakeTerraform::new("{}", "{}");
    let mut command = xtask(&terraform, NO_AWS);
    command.args(["deploy", "--dry-run"]).args(args);
    let out = run(command, None);
    assert!(out.success, "{out}");
    assert_eq!(terraform.calls(), [], "a dry run called terraform");
    out.stdout
}

#[test]
fn prod_dry_run_prints_the_whole_sequence() {
    let out = dry_run(&["--env", "prod", "--artifact", RELEASE]);
    insta::assert_snapshot!("prod_artifact", out);
}

#[test]
fn staging_dry_run_builds_uploads_and_applies_without_asking() {
    let out = dry_run(&["--env", "staging"]);
    assert!(!out.contains("confirm"), "{out}");
    insta::assert_snapshot!("staging_build", out);
}

#[test]
fn code_only_dry_run_moves_live_without_a_plan() {
    let out = dry_run(&["--env", "prod", "--code-only", "--artifact", RELEASE]);
    assert!(!out.contains(" plan "), "{out}");
    insta::assert_snapshot!("prod_code_only", out);
}

#[test]
fn plan_only_dry_run_stops_after_the_summary() {
    let out = dry_run(&[
        "--env",
        "prod",
        "--plan-only",
        "--artifact",
        RELEASE,
        "--arch",
        "arm64",
    ]);
    assert!(out.contains(r#"lambda_architecture = "arm64" }'"#), "{out}");
    assert!(out.contains("plan only: stops here"), "{out}");
    assert!(
        !out.contains("] terraform apply") && !out.contains("] confirm"),
        "{out}"
    );
}

#[test]
fn prod_plan_job_dry_run_plans_without_a_lock_and_publishes_the_plan() {
    let out = dry_run(&[
        "--env",
        "prod",
        "--artifact",
        RELEASE,
        "--plan-only",
        "--publish-plan",
    ]);
    assert!(out.contains(" -lock=false "), "{out}");
    assert!(!out.contains("lambda/<api-zip-sha256>.zip  (only"), "{out}");
    insta::assert_snapshot!("prod_publish_plan", out);
}

#[test]
fn prod_apply_job_dry_run_fetches_checks_and_applies_the_reviewed_plan() {
    let plan = "9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b7a6f5e4d3c2b1a0f9e8d";
    let out = dry_run(&[
        "--env",
        "prod",
        "--artifact",
        RELEASE,
        "--apply-plan",
        plan,
        "--auto-approve",
    ]);
    assert!(
        !out.contains(" plan -input"),
        "a reviewed plan is not made again: {out}"
    );
    insta::assert_snapshot!("prod_apply_plan", out);
}

#[test]
fn prod_canary_dry_run_shows_the_weighted_alias_the_bake_and_the_promotion() {
    // The command of the issue's "done when": a build, not an earlier release.
    let out = dry_run(&["--env", "prod", "--canary", "10", "--bake", "10m"]);
    for step in [
        "] preflight",
        "] upload",
        "] terraform plan",
        "] confirm",
        "] terraform apply",
        "] canary",
        "] bake",
        "] promote",
    ] {
        assert!(out.contains(step), "no `{step}`: {out}");
    }
    assert!(
        out.contains("-> <live-version>, 10 % to <new-version>"),
        "{out}"
    );
    assert!(out.contains("(every 30 s for 600 s)"), "{out}");
    insta::assert_snapshot!("prod_canary", out);
}

#[test]
fn rollback_and_destroy_dry_runs_name_their_calls_and_prod_destroy_needs_a_flag() {
    let run_dry = |args: &[&str]| {
        let terraform = FakeTerraform::new("{}", "{}");
        let mut command = xtask(&terraform, NO_AWS);
        command.args(args).arg("--dry-run");
        let out = run(command, None);
        assert_eq!(terraform.calls(), [], "a dry run called terraform");
        out
    };
    let rollback = run_dry(&["rollback", "--env", "prod"]);
    assert!(rollback.success, "{rollback}");
    insta::assert_snapshot!("prod_rollback", rollback.stdout);
    let destroy = run_dry(&["destroy", "--env", "staging"]);
    assert!(destroy.success, "{destroy}");
    insta::assert_snapshot!("staging_destroy", destroy.stdout);
    let prod = run_dry(&["destroy", "--env", "prod"]);
    assert!(
        !prod.success && prod.stderr.contains("--allow-prod"),
        "{prod}"
    );
}

#[test]
fn a_canary_needs_a_bake_and_a_share_of_at_most_half() {
    let refused = |args: &[&str]| {
        let terraform = FakeTerraform::new("{}", "{}");
        let mut command = xtask(&terraform, NO_AWS);
        command
            .args(["deploy", "--env", "prod", "--dry-run"])
            .args(args);
        let out = run(command, None);
        assert!(!out.success, "{args:?} ran: {out}");
    };
    refused(&["--canary", "10"]);
    refused(&["--bake", "10m"]);
    refused(&["--canary", "0", "--bake", "10m"]);
    refused(&["--canary", "60", "--bake", "10m"]);
    refused(&["--canary", "10", "--bake", "10"]);
    refused(&["--canary", "10", "--bake", "2d"]);
    refused(&["--canary", "10", "--bake", "10m", "--code-only"]);
}

#[test]
fn a_release_id_that_is_not_one_is_refused_before_anything_runs() {
    let terraform = FakeTerraform::new("{}", "{}");
    let mut command = xtask(&terraform, NO_AWS);
    command.args(["deploy", "--env", "prod", "--artifact", "v1.2.3"]);
    let out = run(command, None);
    assert!(!out.success, "{out}");
    assert!(out.stderr.contains("not a release ID"), "{out}");
    assert_eq!(terraform.calls(), []);
}
