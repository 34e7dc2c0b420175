//! `cargo xtask`: every command that never talks to AWS (see the library).

fn main() -> std::process::ExitCode {
    xtask::main()
}
