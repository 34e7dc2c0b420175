//! `cargo xtask dev`: build the `dev` binary and run it in the foreground.

use std::os::unix::process::CommandExt;

use anyhow::Context;
use xshell::{Shell, cmd};

use crate::flags::DevArgs;

pub fn run(sh: &Shell, args: DevArgs) -> crate::Result<()> {
    // Without the AWS adapters: the dev server needs no AWS SDK.
    cmd!(
        sh,
        "cargo build --locked --package imagegen --no-default-features --bin dev"
    )
    .run()?;
    sh.create_dir(&args.data_dir)?;
    let binary = crate::project_root().join("target/debug/dev");
    let port = args.port.to_string();
    println!(
        "starting {} on http://127.0.0.1:{port} (Ctrl-C stops it)",
        binary.display()
    );
    // Replace this process so Ctrl-C reaches the server directly and it shuts down cleanly.
    let err = std::process::Command::new(&binary)
        .args(["--port", &port])
        .exec();
    Err(err).with_context(|| format!("cannot run {}", binary.display()))
}
