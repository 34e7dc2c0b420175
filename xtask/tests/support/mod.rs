//! Runs the real xtask binary as a user runs it, against the AWS emulator, with `terraform`
//! replaced by a recording stand-in (`IMAGEGEN_TERRAFORM`).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

/// A `terraform` that records every call and answers `output` with `outputs_json` and `show`
/// with `plan_json`; anything else succeeds with one line of output.
pub struct FakeTerraform {
    dir: PathBuf,
    program: PathBuf,
}

/// One call of the fake: its working directory and arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    pub dir: PathBuf,
    pub args: Vec<String>,
}

static NEXT: AtomicU32 = AtomicU32::new(0);

impl FakeTerraform {
    pub fn new(outputs_json: &str, plan_json: &str) -> FakeTerraform {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!(
            "imagegen-fake-terraform-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("calls")).unwrap();
        std::fs::write(dir.join("outputs.json"), outputs_json).unwrap();
        std::fs::write(dir.join("plan.json"), plan_json).unwrap();
        let quoted = dir.to_str().filter(|d| !d.contains('\'')).unwrap();
        // Each call is one file: the working directory and the arguments, NUL-separated.
        let script = format!(
            r#"#!/bin/sh
dir='{quoted}'
n=$(ls "$dir/calls" | wc -l)
printf '%s\0' "$PWD" "$@" > "$dir/calls/$(printf %06d "$n")"
for arg in "$@"; do
  case "$arg" in
    output) cat "$dir/outputs.json"; exit 0 ;;
    show) cat "$dir/plan.json"; exit 0 ;;
  esac
done
echo "fake terraform: $*"
"#
        );
        let program = dir.join("terraform");
        std::fs::write(&program, script).unwrap();
        std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755)).unwrap();
        FakeTerraform { dir, program }
    }

    pub fn program(&self) -> &Path {
        &self.program
    }

    /// The calls so far, in order.
    pub fn calls(&self) -> Vec<Call> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(self.dir.join("calls"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        files
            .iter()
            .map(|f| {
                let raw = std::fs::read(f).unwrap();
                let mut fields = raw
                    .split(|b| *b == 0)
                    .map(|f| String::from_utf8_lossy(f).into_owned());
                let dir = PathBuf::from(fields.next().unwrap());
                let mut args: Vec<String> = fields.collect();
                // printf's format ends every field with a NUL: drop the empty tail.
                if args.last().is_some_and(String::is_empty) {
                    args.pop();
                }
                Call { dir, args }
            })
            .collect()
    }
}

impl Drop for FakeTerraform {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The xtask binary of this build, set up as a user's shell would be for the emulator:
/// static `test` credentials, the emulator's endpoint for every AWS client, no profile.
pub fn xtask(terraform: &FakeTerraform, aws_endpoint: &str) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_xtask"));
    let nowhere = terraform.dir.join("no-such-aws-config");
    command
        .env("IMAGEGEN_TERRAFORM", terraform.program())
        .env("AWS_ENDPOINT_URL", aws_endpoint)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", imagegen_tests::aws::env::REGION)
        .env("AWS_CONFIG_FILE", &nowhere)
        .env("AWS_SHARED_CREDENTIALS_FILE", &nowhere)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("AWS_DEFAULT_REGION")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}
