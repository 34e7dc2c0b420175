//! `cargo xtask deploy|keys|secrets`, handed over by `xtask`: the toolkit with the AWS SDK.

fn main() -> std::process::ExitCode {
    xtask::main()
}
