//! What the xtask's command tests share: the real `xtask` binary run as a user runs it, with a
//! recording stand-in for `terraform` (the real one cannot download providers here) and the
//! AWS SDK pointed at an emulator.
//!
//! ```ignore
//! let terraform = FakeTerraform::new(&outputs_json, PLAN_JSON);
//! let out = xtask(&terraform, &emulator.endpoint).args(["deploy", "--env", "staging"]).output()?;
//! assert_eq!(terraform.calls()[0].subcommand(), Some("version"));
//! ```
#![allow(
    dead_code,
    reason = "each test target uses a different part of the harness"
)]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test harness: a panic is the failure report"
)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The region the tests' SDK clients and the xtask use.
pub const REGION: &str = imagegen_tests::aws::env::REGION;

/// A `terraform` executable (a shell script) that records each call and answers:
///
/// - `version`: a version line;
/// - `init`: nothing;
/// - `plan … -out=F`: writes F (relative to `-chdir`, as Terraform does);
/// - `show -json F`: the canned plan (fails when F does not exist);
/// - `apply … F`: nothing (fails when F does not exist, so a test sees the saved plan is used);
/// - `output -json`: the canned outputs;
/// - anything else, or a subcommand made to fail with [`FakeTerraform::fail`]: exit 1.
pub struct FakeTerraform {
    dir: PathBuf,
    program: PathBuf,
}

/// One recorded call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// The working directory terraform was started in.
    pub cwd: PathBuf,
    /// The arguments, without the program.
    pub args: Vec<String>,
}

impl Call {
    /// Where the call ran: `-chdir=DIR` resolved against `cwd`, else `cwd`.
    pub fn dir(&self) -> PathBuf {
        self.args
            .iter()
            .find_map(|a| a.strip_prefix("-chdir="))
            .map_or_else(|| self.cwd.clone(), |d| self.cwd.join(d))
    }

    /// The first argument that is not an option: `init`, `plan`, `apply`, `output`, …
    pub fn subcommand(&self) -> Option<&str> {
        self.args
            .iter()
            .map(String::as_str)
            .find(|a| !a.starts_with('-'))
    }

    /// Whether `arg` was passed as it is.
    pub fn has(&self, arg: &str) -> bool {
        self.args.iter().any(|a| a == arg)
    }

    /// The value of `-name=value` (`-out`, `-backend-config`) or of `-var=name=value`.
    pub fn value(&self, name: &str) -> Option<&str> {
        self.args.iter().find_map(|a| {
            a.strip_prefix(&format!("{name}="))
                .or_else(|| a.strip_prefix(&format!("-var={name}=")))
        })
    }
}

impl Call {
    /// The `release` object of `-var=release={…}` as Terraform reads it: attribute → string.
    pub fn release(&self) -> std::collections::BTreeMap<String, String> {
        use hcl::eval::Evaluate;
        let object = self
            .value("release")
            .unwrap_or_else(|| panic!("no -var=release=… in {self:?}"));
        let body = hcl::parse(&format!("release = {object}"))
            .unwrap_or_else(|e| panic!("-var=release={object} is not HCL: {e}"));
        let value = body
            .attributes()
            .next()
            .unwrap()
            .expr()
            .evaluate(&hcl::eval::Context::new())
            .unwrap();
        let hcl::Value::Object(fields) = value else {
            panic!("-var=release={object} is not an object");
        };
        fields
            .into_iter()
            .map(|(name, v)| {
                let v = v
                    .as_str()
                    .unwrap_or_else(|| panic!("release.{name} is not a string"));
                (name, v.to_owned())
            })
            .collect()
    }
}

const LOG: &str = "calls.log";
/// Between the fields of a call, and after each call.
const FIELD: char = '\u{1f}';
const RECORD: char = '\u{1e}';

impl FakeTerraform {
    pub fn new(outputs_json: &str, plan_json: &str) -> FakeTerraform {
        let dir = temp_dir("terraform");
        std::fs::write(dir.join("outputs.json"), outputs_json).unwrap();
        std::fs::write(dir.join("plan.json"), plan_json).unwrap();
        let program = dir.join("terraform");
        std::fs::write(&program, script(&dir)).unwrap();
        make_executable(&program);
        FakeTerraform { dir, program }
    }

    pub fn program(&self) -> &Path {
        &self.program
    }

    /// A folder of this stand-in's own, removed with it (for a test's other files).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Replaces the outputs `terraform output -json` answers with.
    pub fn set_outputs(&self, outputs_json: &str) {
        std::fs::write(self.dir.join("outputs.json"), outputs_json).unwrap();
    }

    /// Replaces what `terraform show -json` answers with.
    pub fn set_plan(&self, plan_json: &str) {
        std::fs::write(self.dir.join("plan.json"), plan_json).unwrap();
    }

    /// Makes every later `apply` refuse its saved plan as Terraform does when the state changed
    /// after the plan was made.
    pub fn make_plans_stale(&self) {
        std::fs::write(self.dir.join("stale"), "").unwrap();
    }

    /// Makes every later call of `subcommand` fail with exit status 1.
    pub fn fail(&self, subcommand: &str) {
        std::fs::write(self.dir.join(format!("fail-{subcommand}")), "").unwrap();
    }

    /// Every call so far, in order.
    pub fn calls(&self) -> Vec<Call> {
        let log = std::fs::read_to_string(self.dir.join(LOG)).unwrap_or_default();
        log.split(RECORD)
            .filter(|record| !record.is_empty())
            .map(|record| {
                let mut fields: Vec<String> = record.split(FIELD).map(str::to_owned).collect();
                // Every field, the last included, ends with FIELD.
                fields.pop();
                let cwd = PathBuf::from(fields.remove(0));
                Call { cwd, args: fields }
            })
            .collect()
    }

    /// The subcommands called so far, in order.
    pub fn subcommands(&self) -> Vec<String> {
        self.calls()
            .iter()
            .map(|c| c.subcommand().unwrap_or_default().to_owned())
            .collect()
    }
}

impl Drop for FakeTerraform {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn script(dir: &Path) -> String {
    let dir = dir.display();
    format!(
        r#"#!/bin/sh
# A recording stand-in for terraform, written by xtask/tests/support/mod.rs.
{{ printf '%s\037' "$PWD" "$@"; printf '\036'; }} >> '{dir}/{LOG}'
chdir=.
sub=
for a in "$@"; do
  case $a in
    -chdir=*) chdir=${{a#-chdir=}} ;;
    -*) ;;
    *) [ -z "$sub" ] && sub=$a ;;
  esac
done
last=
for a in "$@"; do last=$a; done
if [ -e '{dir}/fail-'"$sub" ]; then
  echo "fake terraform: $sub fails (as the test asked)" >&2
  exit 1
fi
case $sub in
  version) echo 'Terraform v1.11.4 (fake)' ;;
  init) echo 'fake terraform: initialised' ;;
  plan)
    out=
    for a in "$@"; do case $a in -out=*) out=${{a#-out=}} ;; esac; done
    if [ -z "$out" ]; then echo 'fake terraform: plan without -out' >&2; exit 1; fi
    (cd "$chdir" && echo 'fake plan' > "$out") || exit 1
    echo "fake terraform: saved the plan to $out" ;;
  show)
    if ! (cd "$chdir" && [ -f "$last" ]); then echo "fake terraform: no plan $last in $chdir" >&2; exit 1; fi
    cat '{dir}/plan.json' ;;
  apply)
    if ! (cd "$chdir" && [ -f "$last" ]); then echo "fake terraform: no plan $last in $chdir" >&2; exit 1; fi
    if [ -e '{dir}/stale' ]; then
      printf '%s\n' '' 'Error: Saved plan is stale' '' 'The given plan file can no longer be applied because the state was changed by another operation after the plan was created.' >&2
      exit 1
    fi
    echo 'Apply complete! (fake)' ;;
  output) cat '{dir}/outputs.json' ;;
  destroy) echo 'Destroy complete! (fake)' ;;
  *) echo "fake terraform: unexpected call: $*" >&2; exit 1 ;;
esac
"#
    )
}

fn make_executable(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let mut permissions = std::fs::metadata(path).unwrap().permissions();
    permissions.set_mode(0o755);
    std::fs::set_permissions(path, permissions).unwrap();
}

/// Settings for the deploy's preflight (`IMAGEGEN_SETTINGS_DIR`), in place of the
/// repository's terraform.tfvars, whose prod holds placeholders the preflight refuses: the
/// emulator's region, `account` for prod (staging: any), no reserved concurrency, no custom
/// domain, a real-looking alert subscriber; `overrides` replace or add settings (HCL values)
/// in both environments.
pub fn write_settings(dir: &Path, account: &str, overrides: &[(&str, &str)]) {
    std::fs::create_dir_all(dir).unwrap();
    for env in ["staging", "prod"] {
        let mut fields: std::collections::BTreeMap<&str, String> = [
            ("environment", format!("\"{env}\"")),
            ("aws_region", format!("\"{REGION}\"")),
            (
                "aws_account_id",
                if env == "prod" {
                    format!("\"{account}\"")
                } else {
                    "null".to_owned()
                },
            ),
            ("api_reserved_concurrency", "null".to_owned()),
            ("worker_reserved_concurrency", "null".to_owned()),
            ("alert_emails", "[\"oncall@imagegen.dev\"]".to_owned()),
        ]
        .into_iter()
        .collect();
        for (name, value) in overrides {
            fields.insert(name, (*value).to_owned());
        }
        let body: String = fields
            .iter()
            .map(|(name, value)| format!("  {name} = {value}\n"))
            .collect();
        std::fs::write(
            dir.join(format!("{env}.tfvars")),
            format!("settings = {{\n{body}}}\n"),
        )
        .unwrap();
    }
}

/// A new empty folder under the system's temporary directory; its owner removes it when
/// dropped.
pub fn temp_dir(what: &str) -> PathBuf {
    tempfile::Builder::new()
        .prefix(&format!("imagegen-xtask-{what}-"))
        .tempdir()
        .unwrap()
        .keep()
}

/// The `xtask` binary with `terraform` replaced by `terraform`, and every AWS client pointed at
/// `aws_endpoint` with the emulators' `test` credentials (no profile, no SSO, no GitHub step
/// output, no colour). Stdin is empty unless the test pipes something.
pub fn xtask(terraform: &FakeTerraform, aws_endpoint: &str) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_xtask-aws"));
    let no_file = terraform.dir().join("no-such-aws-config");
    command
        .env("IMAGEGEN_TERRAFORM", terraform.program())
        .env("AWS_ENDPOINT_URL", aws_endpoint)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", REGION)
        .env("AWS_CONFIG_FILE", &no_file)
        .env("AWS_SHARED_CREDENTIALS_FILE", &no_file)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("NO_COLOR", "1")
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_DEFAULT_PROFILE")
        .env_remove("AWS_DEFAULT_REGION")
        .env_remove("AWS_ENDPOINT_URL_S3")
        .env_remove("AWS_ENDPOINT_URL_LAMBDA")
        .env_remove("AWS_ENDPOINT_URL_STS")
        .env_remove("GITHUB_OUTPUT")
        .stdin(Stdio::null());
    command
}

/// What a finished xtask run printed.
#[derive(Debug)]
pub struct Run {
    pub success: bool,
    pub stdout: String,
    pub stderr: String,
}

impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "success: {}\n--- stdout\n{}\n--- stderr\n{}",
            self.success, self.stdout, self.stderr
        )
    }
}

impl Run {
    /// Asserts the command succeeded.
    pub fn success(self) -> Self {
        assert!(self.success, "the command failed:\n{}", self.stderr);
        self
    }

    /// Asserts the command failed.
    pub fn failure(self) -> Self {
        assert!(!self.success, "the command succeeded:\n{}", self.stdout);
        self
    }

    /// The one-line message of a failed command.
    pub fn error(&self) -> &str {
        self.stderr
            .lines()
            .rev()
            .find(|l| l.starts_with("error: "))
            .unwrap_or_else(|| panic!("no `error:` line in:\n{}", self.stderr))
    }

    /// Whether `text` was printed, on stdout or stderr.
    pub fn shows(&self, text: &str) -> bool {
        self.stdout.contains(text) || self.stderr.contains(text)
    }
}

/// Runs `command` to the end, with `stdin` piped to it when given.
pub fn run(mut command: Command, stdin: Option<&[u8]>) -> Run {
    use std::io::Write;
    command.stdout(Stdio::piped()).stderr(Stdio::piped());
    if stdin.is_some() {
        command.stdin(Stdio::piped());
    }
    let mut child = command.spawn().unwrap();
    if let Some(input) = stdin {
        let mut pipe = child.stdin.take().unwrap();
        // The xtask may stop before it reads (then the pipe is closed): not an error here.
        let _ = pipe.write_all(input);
    }
    let output = child.wait_with_output().unwrap();
    let run = Run {
        success: output.status.success(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    };
    // Shown when a test fails (nextest keeps a passing test's output to itself).
    println!("{run}");
    run
}

/// The account of the emulator's credentials (`sts:GetCallerIdentity`), which names the
/// bootstrap's buckets.
pub async fn account_id(sdk: &aws_config::SdkConfig) -> String {
    aws_sdk_sts::Client::new(sdk)
        .get_caller_identity()
        .send()
        .await
        .unwrap()
        .account
        .unwrap()
}

/// A git repository with one commit, for the git checks (`GIT_DIR`/`GIT_WORK_TREE` point the
/// xtask's `git` at it, so a test does not depend on the state of the real checkout).
pub struct TempRepo {
    pub dir: PathBuf,
}

impl TempRepo {
    pub fn clean() -> TempRepo {
        let dir = temp_dir("repo");
        let git = |args: &[&str]| {
            let status = Command::new("git")
                .args(args)
                .current_dir(&dir)
                .env_remove("GIT_DIR")
                .env_remove("GIT_WORK_TREE")
                .stdout(Stdio::null())
                .status()
                .unwrap();
            assert!(status.success(), "git {args:?} failed");
        };
        git(&["init", "--quiet"]);
        std::fs::write(dir.join("README.md"), "test repository\n").unwrap();
        git(&["add", "README.md"]);
        git(&[
            "-c",
            "user.name=imagegen-tests",
            "-c",
            "user.email=tests@imagegen.local",
            "commit",
            "--quiet",
            "-m",
            "init",
        ]);
        TempRepo { dir }
    }

    /// Leaves a change uncommitted.
    pub fn make_dirty(&self) {
        std::fs::write(self.dir.join("README.md"), "changed\n").unwrap();
    }

    /// Runs the xtask's git commands in this repository.
    pub fn apply(&self, command: &mut Command) {
        command
            .env("GIT_DIR", self.dir.join(".git"))
            .env("GIT_WORK_TREE", &self.dir);
    }
}

impl Drop for TempRepo {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
