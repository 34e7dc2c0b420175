//! `cargo xtask`: the toolkit that builds, checks, packages and ships imagegen.
//!
//! One shell, rooted at the workspace; one file per command. Two binaries of one package:
//! `xtask` (everything that never talks to AWS: it compiles no AWS SDK and not the service) and
//! `xtask-aws` (the same with the `aws` feature: `deploy`, `keys`, `secrets`), which `xtask`
//! hands those three commands to, built by cargo the first time one runs.

#[cfg(feature = "aws")]
mod aws;
mod bench;
mod build;
mod ci;
mod contract;
#[cfg(feature = "aws")]
mod deploy;
mod dev;
mod docs;
mod elf;
#[cfg(feature = "aws")]
mod environment;
mod flags;
mod fuzz;
mod install_hooks;
mod integration;
#[cfg(feature = "aws")]
mod keys;
mod lint;
mod local_server;
#[cfg(feature = "aws")]
mod ops;
#[cfg(feature = "aws")]
mod secrets;
mod smoke;
mod test;
mod tools;
mod zip;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Parser;

/// What every command returns: on failure, a message for the user and the causes under it
/// (`.context(…)` adds a line of what was being done).
pub type Result<T, E = anyhow::Error> = std::result::Result<T, E>;

/// Both binaries' `main`.
pub fn main() -> ExitCode {
    let flags = flags::Xtask::parse();
    let result = xshell::Shell::new().map_err(Into::into).and_then(|sh| {
        sh.change_dir(project_root());
        run(&sh, flags.command)
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", one_line(&e));
            ExitCode::FAILURE
        }
    }
}

/// An error and its causes, outermost first, joined by `: ` as `{:#}` prints them; a cause
/// whose text is already in the line is left out (many errors quote their source, as zip's
/// `i/o error: {0}` does, and also return it as their source).
pub fn one_line(e: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if line.contains(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line
}

fn run(sh: &xshell::Shell, command: flags::Command) -> Result<()> {
    use flags::Command as C;
    match command {
        C::Build(args) => build::run(sh, args.arch).map(drop),
        C::Zip(args) => zip::run(sh, args.arch).map(drop),
        C::Smoke(args) => smoke::run(sh, args.runs),
        C::Lint => lint::run(sh),
        C::Test => test::run(sh),
        C::Integration => integration::run(sh),
        C::Ci => ci::run(sh),
        C::Contract => contract::run(sh),
        C::Dev(args) => dev::run(sh, args),
        C::InstallHooks(args) => install_hooks::run(sh, args.uninstall),
        C::Docs(args) => docs::run(sh, args.check),
        C::Bench(args) => bench::run(sh, args.iterations, args.rounds),
        C::Fuzz(args) => fuzz::run(sh, args.target, args.seconds),
        #[cfg(feature = "aws")]
        C::Deploy(args) => deploy::run(sh, args),
        #[cfg(feature = "aws")]
        C::Keys(args) => keys::run(sh, args),
        #[cfg(feature = "aws")]
        C::Secrets(args) => secrets::run(sh, args),
        #[cfg(feature = "aws")]
        C::Rollback(args) => deploy::rollback(sh, args),
        #[cfg(feature = "aws")]
        C::Destroy(args) => deploy::destroy(sh, args),
        #[cfg(not(feature = "aws"))]
        C::Deploy(f) => forward("deploy", f),
        #[cfg(not(feature = "aws"))]
        C::Keys(f) => forward("keys", f),
        #[cfg(not(feature = "aws"))]
        C::Secrets(f) => forward("secrets", f),
        #[cfg(not(feature = "aws"))]
        C::Rollback(f) => forward("rollback", f),
        #[cfg(not(feature = "aws"))]
        C::Destroy(f) => forward("destroy", f),
    }
}

/// Runs `command` in the AWS toolkit (`xtask-aws`), which cargo builds on first use; its exit
/// status is this process's (it has printed its own errors).
#[cfg(not(feature = "aws"))]
fn forward(command: &str, forwarded: flags::Forwarded) -> Result<()> {
    use anyhow::Context;
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    eprintln!(
        "{command} runs in the AWS toolkit (xtask-aws); cargo builds it the first time, AWS SDK \
         included"
    );
    let status = std::process::Command::new(cargo)
        .current_dir(project_root())
        .args(["run", "--locked", "--package", "xtask", "--features", "aws"])
        .args(["--bin", "xtask-aws", "--", command])
        .args(&forwarded.args)
        .status()
        .context("cannot run cargo to start xtask-aws")?;
    std::process::exit(status.code().unwrap_or(1))
}

/// The workspace root: xtask lives one level below it.
pub fn project_root() -> PathBuf {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir.parent().unwrap_or(manifest_dir).to_path_buf()
}

/// Where packaged Lambda artifacts go (cargo-lambda's layout).
pub fn lambda_dir() -> PathBuf {
    project_root().join("target").join("lambda")
}

/// The Lambda functions this repository ships, each a binary of the `imagegen` package.
pub const LAMBDA_BINS: [&str; 2] = ["api", "worker"];

/// Cargo's JSON messages (`--message-format=json-…`), one per line; other lines are skipped.
pub fn cargo_messages(output: &str) -> impl DoubleEndedIterator<Item = serde_json::Value> + '_ {
    output
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
}

/// The executable of target `name` in cargo's JSON messages.
pub fn executable(messages: &str, name: &str) -> Option<PathBuf> {
    cargo_messages(messages)
        .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == name)
        .find_map(|m| m["executable"].as_str().map(PathBuf::from))
}

#[cfg(test)]
mod tests {
    #[test]
    fn an_executable_is_found_in_cargos_messages_by_target_name() {
        let messages = r#"{"reason":"compiler-artifact","target":{"name":"imagegen"},"executable":null}
{"reason":"compiler-artifact","target":{"name":"reference_image"},"executable":"/t/release/deps/reference_image-1f"}
{"reason":"build-finished","success":true}"#;
        assert_eq!(
            super::executable(messages, "reference_image"),
            Some(super::PathBuf::from("/t/release/deps/reference_image-1f"))
        );
        assert_eq!(super::executable(messages, "imagegen"), None);
        assert_eq!(
            super::executable(r#"{"reason":"build-finished"}"#, "dev"),
            None
        );
    }

    use super::*;
    use anyhow::Context;

    #[test]
    fn an_error_prints_with_its_causes_on_one_line_each_cause_once() {
        let io = std::io::Error::other("disk full");
        let zip = ::zip::result::ZipError::Io(io);
        let e = Err::<(), _>(zip)
            .context("cannot write target/lambda/api.zip")
            .unwrap_err();
        assert_eq!(
            one_line(&e),
            "cannot write target/lambda/api.zip: i/o error: disk full"
        );
        assert_eq!(one_line(&anyhow::anyhow!("plain")), "plain");
    }
}
