//! `cargo xtask`: the toolkit that builds, checks, packages and ships imagegen.
//!
//! One shell, rooted at the workspace; one file per command.

mod aws;
mod bench;
mod build;
mod ci;
mod contract;
mod deploy;
mod dev;
mod docs;
mod elf;
mod environment;
mod flags;
mod fuzz;
mod install_hooks;
mod integration;
mod keys;
mod lint;
mod local_server;
mod ops;
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

fn main() -> ExitCode {
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
        C::Deploy(args) => deploy::run(sh, args),
        C::Keys(args) => keys::run(sh, args),
        C::Secrets(args) => secrets::run(sh, args),
    }
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

#[cfg(test)]
mod tests {
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
