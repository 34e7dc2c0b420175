//! `cargo xtask lint`: formatting and static checks for Rust and Terraform.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, anyhow, bail};
use serde_json::Value;
use xshell::{Shell, cmd};

use crate::tools;

/// The Terraform trees, relative to the project root.
const TERRAFORM_ROOTS: [&str; 2] = ["modules", "environments"];

pub fn run(sh: &Shell) -> crate::Result<()> {
    cmd!(sh, "cargo fmt --all --check").run()?;
    clippy(sh)?;
    // The light toolkit and the dev server are built without features too: lint what only
    // they compile (the hand-over to xtask-aws, the service without its AWS adapters). Their
    // libraries and binaries: that is all a featureless build makes (the tests run with them).
    cmd!(
        sh,
        "cargo clippy --package xtask --package imagegen --no-default-features --lib --bins --locked -- -D warnings"
    )
    .run()?;
    let roots: Vec<&str> = TERRAFORM_ROOTS
        .into_iter()
        .filter(|dir| sh.path_exists(dir))
        .collect();
    if roots.is_empty() {
        return Ok(());
    }
    terraform_fmt(sh, &roots)?;
    checkov(sh, &roots)?;
    crate::docs::run(sh, true)?;
    workflows(sh)
}

/// Clippy over every target of every package, with every feature (the emulator tests too), no
/// warning allowed. Its verdict comes from compiling the test selection through clippy-driver
/// (`test::lint_while_building`), which `test`, `contract` and `integration` then run as built:
/// one compilation of the dependencies instead of a `cargo clippy` check of them and a build.
/// Its warnings are read from cargo's messages, which replay them when nothing changed.
fn clippy(sh: &Shell) -> crate::Result<()> {
    crate::test::lint_while_building(sh);
    if !crate::test::builds_lint(sh) {
        // A wrapper of the caller's own, or no clippy-driver (then this says how to get it).
        return cmd!(
            sh,
            "cargo clippy --workspace --all-targets --all-features --locked -- -D warnings"
        )
        .run()
        .map_err(Into::into);
    }
    let selection = crate::test::SELECTION;
    // Through the Shell like every other step, so the build sees exactly their environment
    // (`ci` turns incremental compilation off): any difference would rebuild the workspace.
    // Progress goes to the terminal; the messages are read; the status is cargo's last message.
    let messages = cmd!(
        sh,
        "cargo test {selection...} --all-targets --no-run --message-format json-diagnostic-rendered-ansi"
    )
    .ignore_status()
    .read()?;
    let findings = lint_findings(&messages);
    for rendered in &findings {
        eprint!("{rendered}");
    }
    if !findings.is_empty() {
        bail!(
            "clippy: {} warning(s) or error(s) in the workspace (above); fix them, or allow one \
             where it is wrong with a reason",
            findings.len()
        );
    }
    if !build_succeeded(&messages) {
        bail!("the lint build failed (above)");
    }
    Ok(())
}

/// Whether cargo's last message says the build succeeded.
fn build_succeeded(messages: &str) -> bool {
    crate::cargo_messages(messages)
        .rfind(|m| m["reason"] == "build-finished")
        .is_some_and(|m| m["success"] == true)
}

/// Rendered diagnostics of the workspace's crates in cargo's JSON messages (dependencies' lints
/// are capped by cargo and never reach here); rustc's "N warnings emitted" summaries are not
/// findings.
fn lint_findings(messages: &str) -> Vec<String> {
    crate::cargo_messages(messages)
        .filter(|m| m["reason"] == "compiler-message")
        .map(|m| m["message"].clone())
        .filter(|d| matches!(d["level"].as_str(), Some("warning" | "error")))
        .filter(|d| d["spans"].as_array().is_some_and(|spans| !spans.is_empty()))
        .filter_map(|d| d["rendered"].as_str().map(str::to_owned))
        .collect()
}

/// The GitHub Actions workflows.
const WORKFLOWS: &str = ".github/workflows";

/// zizmor over the workflows, offline (no audit that asks GitHub); any finding fails the lint.
/// Actions are pinned to commit SHAs (the release tag in a comment), checkouts keep no
/// credentials, and no expression is expanded into a script.
fn workflows(sh: &Shell) -> crate::Result<()> {
    if !sh.path_exists(WORKFLOWS) {
        return Ok(());
    }
    let zizmor = tools::install(sh, &tools::ZIZMOR)?;
    cmd!(
        sh,
        "{zizmor} --offline --no-progress --format plain {WORKFLOWS}"
    )
    .run()
    .ok()
    .with_context(|| {
        format!(
            "zizmor {} found problems in {WORKFLOWS}/ (above): pin each action to a commit \
                 SHA with its tag in a comment, set `persist-credentials: false` on checkouts, \
                 and pass expressions to scripts through `env:`",
            tools::ZIZMOR.version
        )
    })
}

/// Terraform formatting.
fn terraform_fmt(sh: &Shell, roots: &[&str]) -> crate::Result<()> {
    // A TF_CLI_CONFIG_FILE that names a missing file makes every terraform command warn;
    // the (empty) /dev/null configuration says the same without the noise.
    let _config = std::env::var_os("TF_CLI_CONFIG_FILE")
        .filter(|file| !Path::new(file).exists())
        .map(|_| sh.push_env("TF_CLI_CONFIG_FILE", "/dev/null"));
    cmd!(sh, "terraform version")
        .quiet()
        .ignore_stdout()
        .run()
        .ok()
        .context("terraform is not on PATH: install Terraform >= 1.10 to lint the modules")?;
    for root in roots {
        cmd!(sh, "terraform fmt -check -recursive -diff {root}")
            .run()
            .ok()
            .with_context(|| format!("terraform files under {root}/ are not formatted: run `terraform fmt -recursive {root}`"))?;
    }
    Ok(())
}

/// checkov over each Terraform tree; any failed check fails the lint.
///
/// One checkov process per tree, run side by side: checkov 3.3.30 given several `-d`
/// directories in one run reports the first tree twice and never scans the others
/// (bridgecrewio/checkov#7327), and `-d .` evaluates modules only through their callers.
/// `BC_SKIP_MAPPING`, `--skip-download` and `--download-external-modules false` keep it
/// offline (no Bridgecrew/Prisma API calls, no module downloads).
fn checkov(sh: &Shell, roots: &[&str]) -> crate::Result<()> {
    let checkov = tools::install(sh, &tools::CHECKOV)?;
    println!(
        "$ checkov {} -d {{{}}} --framework terraform --compact --quiet --skip-download --download-external-modules false",
        tools::CHECKOV.version,
        roots.join(",")
    );
    let started = Instant::now();
    let mut running = Vec::new();
    for root in roots {
        let child = Command::new(&checkov)
            .args([
                "-d",
                root,
                "--framework",
                "terraform",
                "--compact",
                "--quiet",
            ])
            .args(["--skip-download", "--download-external-modules", "false"])
            .args(["-o", "json"])
            .env("BC_SKIP_MAPPING", "TRUE")
            .current_dir(sh.current_dir())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("cannot run {}", checkov.display()))?;
        running.push((*root, child));
    }
    let mut reports = Vec::new();
    for (root, child) in running {
        let output = child.wait_with_output()?;
        let stdout = String::from_utf8_lossy(&output.stdout);
        let report = CheckovReport::parse(&stdout).map_err(|e| {
            anyhow!(
                "checkov over {root}/ gave no report ({}; exit status {}):\n{}{}",
                crate::one_line(&e),
                output.status,
                stdout.trim(),
                String::from_utf8_lossy(&output.stderr).trim()
            )
        })?;
        reports.push((root, report));
    }
    let seconds = started.elapsed().as_secs_f64();

    println!(
        "\n{:<14} {:>7} {:>7} {:>8} {:>14}",
        "checkov", "passed", "failed", "skipped", "parse errors"
    );
    for (root, r) in &reports {
        println!(
            "{root:<14} {:>7} {:>7} {:>8} {:>14}",
            r.passed, r.failed, r.skipped, r.parsing_errors
        );
    }
    println!("({seconds:.1} s)");

    let mut problems = Vec::new();
    for (root, r) in &reports {
        for failure in &r.failures {
            problems.push(failure.clone());
        }
        if r.failed > 0 && r.failures.is_empty() {
            problems.push(format!("{root}/: {} failed checks", r.failed));
        }
        if r.parsing_errors > 0 {
            problems.push(format!(
                "{root}/: checkov could not parse {} files (run it without -o json to see which)",
                r.parsing_errors
            ));
        }
    }
    if problems.is_empty() {
        return Ok(());
    }
    println!("\nfailed checkov checks:");
    for problem in &problems {
        println!("  {problem}");
    }
    bail!(
        "checkov: {} in the Terraform; fix it, or skip a check inline with a reason \
         (`#checkov:skip=CKV_…:why` in the resource)",
        match problems.len() {
            1 => "1 problem".to_owned(),
            n => format!("{n} problems"),
        }
    )
}

#[derive(Debug, Default, PartialEq, Eq)]
struct CheckovReport {
    passed: u64,
    failed: u64,
    skipped: u64,
    parsing_errors: u64,
    /// One line per failed check: id, name, resource and where.
    failures: Vec<String>,
}

impl CheckovReport {
    /// checkov's `-o json` output: one report object, a list of them (one per framework), or
    /// a bare summary when there was nothing to scan.
    fn parse(stdout: &str) -> crate::Result<CheckovReport> {
        let json: Value = serde_json::from_str(stdout.trim())?;
        let mut report = CheckovReport::default();
        match &json {
            Value::Array(reports) => {
                for r in reports {
                    report.add(r)?;
                }
            }
            r => report.add(r)?,
        }
        Ok(report)
    }

    fn add(&mut self, r: &Value) -> crate::Result<()> {
        let summary = r.get("summary").unwrap_or(r);
        let count = |key: &str| {
            summary
                .get(key)
                .and_then(Value::as_u64)
                .with_context(|| format!("no summary.{key}"))
        };
        self.passed += count("passed")?;
        self.failed += count("failed")?;
        self.skipped += count("skipped")?;
        self.parsing_errors += count("parsing_errors").unwrap_or(0);
        let failed = r
            .pointer("/results/failed_checks")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default();
        for check in failed {
            let field = |key: &str| check.get(key).and_then(Value::as_str).unwrap_or("?");
            let lines = check
                .get("file_line_range")
                .and_then(Value::as_array)
                .map(|range| {
                    range
                        .iter()
                        .filter_map(Value::as_u64)
                        .map(|n| n.to_string())
                        .collect::<Vec<_>>()
                        .join("-")
                })
                .unwrap_or_default();
            let file = check
                .get("file_abs_path")
                .and_then(Value::as_str)
                .map(|abs| {
                    let root = crate::project_root();
                    Path::new(abs)
                        .strip_prefix(&root)
                        .unwrap_or(Path::new(abs))
                        .display()
                        .to_string()
                })
                .unwrap_or_else(|| field("file_path").to_owned());
            self.failures.push(format!(
                "{} {} — {} ({file}:{lines})",
                field("check_id"),
                field("check_name"),
                field("resource")
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lint_build_fails_on_workspace_warnings_but_not_on_summaries_or_artifacts() {
        let warning = r#"{"reason":"compiler-message","package_id":"path+file:///w/lambda#imagegen@0.1.0","message":{"level":"warning","message":"using `clone` on type `u32`","spans":[{"file_name":"lambda/src/lib.rs"}],"rendered":"warning: using `clone` on type `u32`\n"}}"#;
        let summary = r#"{"reason":"compiler-message","package_id":"path+file:///w/lambda#imagegen@0.1.0","message":{"level":"warning","message":"1 warning emitted","spans":[],"rendered":"warning: 1 warning emitted\n"}}"#;
        let note = r#"{"reason":"compiler-message","package_id":"path+file:///w/lambda#imagegen@0.1.0","message":{"level":"note","message":"x","spans":[{"file_name":"a.rs"}],"rendered":"note: x\n"}}"#;
        let artifact =
            r#"{"reason":"compiler-artifact","package_id":"path+file:///w/lambda#imagegen@0.1.0"}"#;
        let messages = [artifact, summary, warning, note, "not json"].join("\n");
        assert_eq!(
            lint_findings(&messages),
            ["warning: using `clone` on type `u32`\n"]
        );
        assert!(lint_findings(&[artifact, summary].join("\n")).is_empty());
        let finished = |ok: bool| format!(r#"{{"reason":"build-finished","success":{ok}}}"#);
        assert!(build_succeeded(&[artifact, &finished(true)].join("\n")));
        assert!(!build_succeeded(&[artifact, &finished(false)].join("\n")));
        assert!(!build_succeeded(artifact), "no verdict is no success");
    }

    #[test]
    fn a_checkov_report_with_failures_names_each_check_and_where() {
        let root = crate::project_root();
        let stdout = format!(
            r#"{{
  "check_type": "terraform",
  "results": {{
    "failed_checks": [{{
      "check_id": "CKV_AWS_18",
      "check_name": "Ensure the S3 bucket has access logging enabled",
      "resource": "aws_s3_bucket.this",
      "file_path": "/storage/main.tf",
      "file_abs_path": "{}/modules/storage/main.tf",
      "file_line_range": [1, 20]
    }}]
  }},
  "summary": {{"passed": 10, "failed": 1, "skipped": 2, "parsing_errors": 0}}
}}"#,
            root.display()
        );
        let report = CheckovReport::parse(&stdout).unwrap();
        assert_eq!(
            report,
            CheckovReport {
                passed: 10,
                failed: 1,
                skipped: 2,
                parsing_errors: 0,
                failures: vec![
                    "CKV_AWS_18 Ensure the S3 bucket has access logging enabled — aws_s3_bucket.this (modules/storage/main.tf:1-20)".to_owned()
                ],
            }
        );
    }

    #[test]
    fn a_list_of_reports_and_a_bare_summary_both_count() {
        let list = r#"[{"summary": {"passed": 3, "failed": 0, "skipped": 1, "parsing_errors": 0}},
                       {"summary": {"passed": 2, "failed": 0, "skipped": 0, "parsing_errors": 1}}]"#;
        let report = CheckovReport::parse(list).unwrap();
        assert_eq!(
            (report.passed, report.skipped, report.parsing_errors),
            (5, 1, 1)
        );

        let bare =
            r#"{"passed": 0, "failed": 0, "skipped": 0, "parsing_errors": 0, "resource_count": 0}"#;
        assert_eq!(
            CheckovReport::parse(bare).unwrap(),
            CheckovReport::default()
        );

        assert!(CheckovReport::parse("Traceback (most recent call last):").is_err());
    }
}
