//! `cargo xtask ci`: everything CI runs, in order. Passing here means CI is green.

use std::time::{Duration, Instant};

use xshell::Shell;

use crate::flags::Arch;

type Step = (&'static str, fn(&Shell) -> crate::Result<()>);

const STEPS: [Step; 7] = [
    ("lint", crate::lint::run),
    ("test", crate::test::run),
    ("contract", crate::contract::run),
    ("integration", crate::integration::run),
    ("build", |sh| crate::build::run(sh, Arch::X86_64).map(drop)),
    ("zip", |_| crate::zip::package_all().map(drop)),
    ("smoke", |sh| crate::smoke::run(sh, 5)),
];

pub fn run(sh: &Shell) -> crate::Result<()> {
    // A run compiles every workspace crate once: incremental state only costs here (~10 % more
    // compile time for the workspace crates, and gigabytes of target/*/incremental).
    if std::env::var_os("CARGO_INCREMENTAL").is_none() {
        sh.set_var("CARGO_INCREMENTAL", "0");
    }
    // The release build needs nothing the steps before it make: it starts now, at the lowest
    // priority, and `build` finishes it.
    let mut prebuild = match crate::build::Prebuild::start() {
        Ok(prebuild) => Some(prebuild),
        Err(e) => {
            println!("note: no background release build ({e:#}); `build` does all of it");
            None
        }
    };
    let mut results: Vec<(&str, &str, Duration)> = Vec::new();
    let mut failure = None;
    for (name, step) in STEPS {
        println!("\n==> {name}");
        let started = Instant::now();
        if name == "build"
            && let Some(prebuild) = prebuild.take()
        {
            prebuild.finish();
        }
        let outcome = step(sh);
        let took = started.elapsed();
        match outcome {
            Ok(()) => results.push((name, "ok", took)),
            Err(e) => {
                results.push((name, "FAILED", took));
                failure = Some(e.context(format!("step `{name}` failed")));
                break;
            }
        }
    }
    for (name, _) in STEPS.iter().skip(results.len()) {
        results.push((name, "skipped", Duration::ZERO));
    }

    println!("\n{:<11} {:<8} {:>9}", "step", "outcome", "seconds");
    for (name, outcome, took) in &results {
        println!("{name:<11} {outcome:<8} {:>9.1}", took.as_secs_f64());
    }
    let total: Duration = results.iter().map(|r| r.2).sum();
    println!("{:<20} {:>9.1}", "total", total.as_secs_f64());
    match failure {
        Some(e) => Err(e),
        None => Ok(()),
    }
}
