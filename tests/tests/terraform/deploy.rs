//! Deploy: the CI deploy role (environments/bootstrap/deploy_policy.tf) may make every AWS call
//! of `cargo xtask deploy`, and .github/workflows/deploy.yml assumes it with OIDC and deploys one
//! release to staging, then prod.

use std::collections::BTreeSet;

use super::support::{assert_none, attr, blocks, label, project_root, text, tf_files};

/// The AWS calls `cargo xtask deploy` makes, as its dry runs list them (`aws <service>:<Op>`
/// lines in the snapshots of xtask/tests/dry_run.rs).
fn deploy_calls() -> BTreeSet<String> {
    let dir = project_root().join("xtask/tests/snapshots");
    let mut calls = BTreeSet::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if !path.to_string_lossy().ends_with(".snap") {
            continue;
        }
        for line in std::fs::read_to_string(&path).unwrap().lines() {
            if let Some(call) = line.trim().strip_prefix("aws ") {
                calls.insert(call.split_whitespace().next().unwrap().to_owned());
            }
        }
    }
    calls
}

#[test]
fn the_ci_deploy_role_may_make_every_aws_call_of_a_deploy() {
    let calls = deploy_calls();
    for expected in ["s3:PutObject", "s3:GetObject", "lambda:UpdateAlias"] {
        assert!(calls.contains(expected), "no {expected} in {calls:?}");
    }
    let policy =
        std::fs::read_to_string(project_root().join("environments/bootstrap/deploy_policy.tf"))
            .unwrap();
    let mut problems = Vec::new();
    for call in &calls {
        let action = match call.as_str() {
            // Allowed to every caller.
            "sts:GetCallerIdentity" => continue,
            // HeadObject is authorised by s3:GetObject.
            "s3:HeadObject" => "s3:GetObject",
            other => other,
        };
        if !policy.contains(&format!("\"{action}\"")) {
            problems.push(format!("{call} needs {action}"));
        }
    }
    // Releases are zips under lambda/ and manifests under releases/.
    for objects in ["lambda/*", "releases/*"] {
        if !policy.contains(&format!("\"${{local.artifs_arn}}/{objects}\"")) {
            problems.push(format!("no statement on the artifact bucket's {objects}"));
        }
    }
    assert_none(
        problems,
        "environments/bootstrap/deploy_policy.tf does not allow what `cargo xtask deploy` calls",
    );
}

#[test]
fn the_deploy_workflow_assumes_the_role_with_oidc_and_deploys_one_release_per_environment() {
    let workflow =
        std::fs::read_to_string(project_root().join(".github/workflows/deploy.yml")).unwrap();
    let mut problems = Vec::new();
    for (needed, why) in [
        ("branches: [main]", "it deploys every push to main"),
        (
            "id-token: write",
            "the deploy jobs get AWS credentials through OIDC",
        ),
        (
            "role-to-assume: ${{ vars.AWS_DEPLOY_ROLE_ARN }}",
            "the role of environments/bootstrap",
        ),
        (
            "run: cargo xtask zip",
            "the zips are built once, in the build job",
        ),
        (
            "environment: staging",
            "staging deploys from the `staging` environment",
        ),
        (
            "environment: production",
            "prod deploys from the protected `production` environment",
        ),
        (
            "--zips target/lambda",
            "staging deploys the build job's zips",
        ),
        (
            "--artifact \"$RELEASE\"",
            "prod deploys the release staging deployed",
        ),
        (
            "RELEASE: ${{ needs.staging.outputs.release }}",
            "the release id reaches the script as a value, not as code",
        ),
        (
            "role-to-assume: ${{ vars.AWS_PLAN_ROLE_ARN_PROD }}",
            "prod is planned with its read-only plan role, before anyone approves",
        ),
        (
            "--plan-only --publish-plan",
            "the prod plan is stored for the apply job and summarised for the approver",
        ),
        (
            "--apply-plan \"$PLAN\"",
            "the approved job applies exactly the stored plan",
        ),
        (
            "--canary 10 --bake 10m",
            "prod's new versions get a share of the traffic first, watched by the alarms",
        ),
        (
            "PLAN: ${{ needs.prod-plan.outputs.plan }}",
            "the plan's SHA-256 reaches the script as a value, not as code",
        ),
        (
            "needs: [staging, prod-plan]",
            "prod applies after its plan and with staging's release",
        ),
        ("group: deploy-staging", "one staging deployment at a time"),
        ("group: deploy-prod", "one prod deployment at a time"),
    ] {
        if !workflow.contains(needed) {
            problems.push(format!("no `{needed}`: {why}"));
        }
    }
    for stored_keys in [
        "aws-access-key-id",
        "aws-secret-access-key",
        "AWS_SECRET_ACCESS_KEY",
    ] {
        if workflow.contains(stored_keys) {
            problems.push(format!(
                "`{stored_keys}`: no stored AWS keys, the role is assumed with OIDC"
            ));
        }
    }
    if workflow.contains("cancel-in-progress: true") {
        problems.push("a deployment in progress must not be cancelled".into());
    }
    // Each deploy role trusts the GitHub environment the workflow deploys it from.
    let default = tf_files("environments/bootstrap")
        .iter()
        .flat_map(|f| blocks(&f.body, "variable").cloned().collect::<Vec<_>>())
        .find(|b| label(b, 0) == "deploy_environments")
        .and_then(|b| attr(b.body(), "default").map(text))
        .unwrap_or_default();
    for environment in ["staging", "production"] {
        if !default.contains(&format!("\"{environment}\"")) {
            problems.push(format!(
                "environments/bootstrap: deploy_environments does not default to the GitHub environment `{environment}`"
            ));
        }
    }
    assert_none(problems, ".github/workflows/deploy.yml");
}

#[test]
fn pull_requests_plan_every_environment_with_the_plan_role_and_forks_say_they_skip() {
    let workflow =
        std::fs::read_to_string(project_root().join(".github/workflows/ci.yml")).unwrap();
    let job = workflow
        .split("\n  plan:\n")
        .nth(1)
        .and_then(|rest| rest.split("\n  terraform-validate:").next())
        .unwrap_or_default();
    let mut problems = Vec::new();
    if job.is_empty() {
        problems.push("no `plan` job".to_owned());
    }
    for (needed, why) in [
        (
            "if: github.event_name == 'pull_request'",
            "it plans pull requests",
        ),
        (
            "environment: [staging, prod]",
            "every environment is planned",
        ),
        (
            "matrix.environment == 'prod' && vars.AWS_PLAN_ROLE_ARN_PROD || vars.AWS_PLAN_ROLE_ARN_STAGING",
            "each environment with its own read-only plan role",
        ),
        (
            "role-to-assume: ${{ env.PLAN_ROLE }}",
            "the environment's plan role",
        ),
        (
            "No plan role for",
            "an unconfigured repository says why it does not plan",
        ),
        (
            "--zips target/lambda --plan-only",
            "the plan of the zips the ci job built; plan-only uploads and applies nothing",
        ),
        (
            "github.event.pull_request.head.repo.full_name != github.repository",
            "a fork's pull request is recognised",
        ),
        (
            "comes from a fork",
            "a skipped plan says why, in the log and the job summary",
        ),
        ("$GITHUB_STEP_SUMMARY", "the skip is on the job summary"),
        ("id-token: write", "the plan role is assumed with OIDC"),
    ] {
        if !job.contains(needed) {
            problems.push(format!("no `{needed}`: {why}"));
        }
    }
    // Every step that needs credentials is skipped for a fork.
    for step in job.split("\n      - ").skip(1) {
        let credentials =
            step.contains("configure-aws-credentials") || step.contains("cargo xtask deploy");
        if credentials && !step.contains("if: env.FORK != 'true'") {
            problems.push(format!(
                "a step runs for forks too: {}",
                step.lines().next().unwrap_or("")
            ));
        }
    }
    assert_none(problems, ".github/workflows/ci.yml: the pull request plans");
}

#[test]
fn the_deploy_moves_live_and_a_canary_watches_alarms_the_environment_has() {
    let mut problems = Vec::new();
    let function =
        std::fs::read_to_string(project_root().join("modules/lambda_function/main.tf")).unwrap();
    if !function.contains("ignore_changes = [function_version, routing_config]") {
        problems.push(
            "modules/lambda_function: the live alias must leave its version and routing to the deploy (ignore_changes)".to_owned(),
        );
    }
    // xtask/src/deploy/traffic.rs watches imagegen-<env>-api-5xx, -{api,worker}-errors and
    // -{api,worker}-throttles.
    let observability =
        std::fs::read_to_string(project_root().join("modules/observability/main.tf")).unwrap();
    for alarm in [
        "alarm_name          = \"${var.name_prefix}-api-5xx\"",
        "alarm_name          = \"${var.name_prefix}-${each.key}-errors\"",
        "alarm_name          = \"${var.name_prefix}-${each.key}-throttles\"",
    ] {
        if !observability.contains(alarm) {
            problems.push(format!(
                "modules/observability: no `{alarm}`, which a canary watches"
            ));
        }
    }
    let traffic =
        std::fs::read_to_string(project_root().join("xtask/src/deploy/traffic.rs")).unwrap();
    for watched in [
        "-api-5xx",
        "-api-errors",
        "-worker-errors",
        "-api-throttles",
        "-worker-throttles",
    ] {
        if !traffic.contains(&format!("format!(\"{{prefix}}{watched}\")")) {
            problems.push(format!(
                "xtask/src/deploy/traffic.rs does not watch {watched}"
            ));
        }
    }
    assert_none(problems, "traffic shifting");
}
