//! `cargo xtask fuzz`: runs the cargo-fuzz targets in fuzz/ on nightly, each for a fixed time,
//! and fails on any crash, timeout or out-of-memory. Not part of `ci`: fuzzing takes minutes;
//! `cargo xtask test` replays the checked-in corpora and regressions on stable instead.
//!
//! Per target: the seeds in fuzz/corpus/<target>/ (checked in, read only) and a work corpus in
//! fuzz/target/corpus/<target>/ (not checked in, kept between runs so each run starts where the
//! last one stopped); findings go to fuzz/artifacts/<target>/, the full log to
//! fuzz/target/logs/<target>.log.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, bail, ensure};
use xshell::{Shell, cmd};

/// Pinned: `cargo xtask fuzz` installs exactly this version when another one (or none) is there.
pub const CARGO_FUZZ_VERSION: &str = "0.13.2";

/// One fuzz target of fuzz/Cargo.toml.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target {
    pub name: &'static str,
    /// Links the service (the crate's `service` feature). Those build without AddressSanitizer:
    /// what they parse is safe Rust, and the AWS SDK builds twice as slowly under ASan. The image
    /// targets keep it, for the decoders' and resizer's unsafe SIMD code.
    pub service: bool,
}

pub const TARGETS: [Target; 8] = [
    Target {
        name: "prepare_reference",
        service: false,
    },
    Target {
        name: "prepare_reference_small",
        service: false,
    },
    Target {
        name: "transcode",
        service: false,
    },
    Target {
        name: "image_header",
        service: false,
    },
    Target {
        name: "api_json",
        service: true,
    },
    Target {
        name: "api_key",
        service: true,
    },
    Target {
        name: "signed_url",
        service: true,
    },
    Target {
        name: "sqs_message",
        service: true,
    },
];

/// libFuzzer's options for every run. 5 s for one input is a hang; 200 MB in one allocation is
/// a finding (a reference image may use 160 MB in all); 2 GB resident is the process's ceiling.
const LIBFUZZER_FLAGS: [&str; 4] = [
    "-timeout=5",
    "-rss_limit_mb=2048",
    "-malloc_limit_mb=200",
    "-print_final_stats=1",
];

/// What one target's run did.
#[derive(Debug, Default)]
struct Outcome {
    name: &'static str,
    seconds: f64,
    executions: Option<u64>,
    corpus: usize,
    findings: Vec<PathBuf>,
    exit_ok: bool,
}

pub fn run(sh: &Shell, target: Option<String>, seconds: u64) -> crate::Result<()> {
    let targets: Vec<Target> = match &target {
        None => TARGETS.to_vec(),
        Some(name) => vec![
            TARGETS
                .into_iter()
                .find(|t| t.name == name)
                .with_context(|| format!("no fuzz target `{name}`; there are: {}", names()))?,
        ],
    };
    check_nightly(sh)?;
    install_cargo_fuzz(sh)?;
    let fuzz_dir = crate::project_root().join("fuzz");
    let _cd = sh.push_dir(&fuzz_dir);
    // Build first, so the seconds below are fuzzing, not compiling.
    for service in [false, true] {
        let names: Vec<&str> = targets
            .iter()
            .filter(|t| t.service == service)
            .map(|t| t.name)
            .collect();
        if names.is_empty() {
            continue;
        }
        println!("==> building {}", names.join(", "));
        for name in names {
            let flags = build_flags(service);
            cmd!(sh, "cargo +nightly fuzz build {flags...} {name}").run()?;
        }
    }
    let mut outcomes = Vec::new();
    for target in &targets {
        println!("==> fuzzing {} for {seconds} s", target.name);
        outcomes.push(fuzz_one(&fuzz_dir, *target, seconds)?);
    }
    println!();
    println!(
        "{:<24} {:>8} {:>12} {:>8} {:>9}",
        "target", "seconds", "executions", "corpus", "findings"
    );
    for o in &outcomes {
        let executions = o
            .executions
            .map_or_else(|| "?".to_owned(), |n| n.to_string());
        println!(
            "{:<24} {:>8.0} {:>12} {:>8} {:>9}",
            o.name,
            o.seconds,
            executions,
            o.corpus,
            o.findings.len()
        );
    }
    let failed: Vec<&Outcome> = outcomes
        .iter()
        .filter(|o| !o.findings.is_empty() || !o.exit_ok)
        .collect();
    if failed.is_empty() {
        return Ok(());
    }
    println!();
    for o in &failed {
        for path in &o.findings {
            println!("{}: {}", o.name, path.display());
        }
        if o.findings.is_empty() {
            println!(
                "{}: libFuzzer failed without an artifact; see fuzz/target/logs/{}.log",
                o.name, o.name
            );
        }
    }
    println!(
        "Minimise a finding with `cargo +nightly fuzz tmin <target> <artifact>` (in fuzz/), fix \
         it, and check the input in as fuzz/regressions/<target>/<name>: the replay tests run it \
         from then on."
    );
    bail!(
        "fuzzing found problems in {}",
        failed.iter().map(|o| o.name).collect::<Vec<_>>().join(", ")
    )
}

fn names() -> String {
    TARGETS.map(|t| t.name).join(", ")
}

/// cargo-fuzz options: sanitizer, debug assertions (overflow and the std's own checks) and, for
/// the service targets, the feature and a target dir of their own (another sanitizer means
/// other compiler flags: sharing a dir would rebuild everything on each switch).
fn build_flags(service: bool) -> Vec<&'static str> {
    let mut flags = vec!["--debug-assertions"];
    if service {
        flags.extend([
            "--sanitizer",
            "none",
            "--features",
            "service",
            "--target-dir",
            "target/service",
        ]);
    }
    flags
}

fn check_nightly(sh: &Shell) -> crate::Result<()> {
    let version = cmd!(sh, "cargo +nightly --version")
        .quiet()
        .ignore_stderr()
        .read();
    match version {
        Ok(v) if v.contains("nightly") => Ok(()),
        _ => bail!(
            "cargo-fuzz needs a nightly toolchain (libFuzzer's instrumentation flags): \
             `rustup toolchain install nightly`"
        ),
    }
}

/// Installs cargo-fuzz at the pinned version unless exactly that version is installed.
fn install_cargo_fuzz(sh: &Shell) -> crate::Result<()> {
    let installed = cmd!(sh, "cargo fuzz --version")
        .quiet()
        .ignore_stderr()
        .read()
        .unwrap_or_default();
    // `cargo-fuzz 0.13.2`
    if installed.split_whitespace().nth(1) == Some(CARGO_FUZZ_VERSION) {
        return Ok(());
    }
    let found = if installed.is_empty() {
        "not installed".to_owned()
    } else {
        format!("found {}", installed.trim())
    };
    println!("==> installing cargo-fuzz {CARGO_FUZZ_VERSION} ({found}; a few minutes, once)");
    cmd!(
        sh,
        "cargo install --locked --version {CARGO_FUZZ_VERSION} cargo-fuzz"
    )
    .run()?;
    Ok(())
}

fn fuzz_one(fuzz_dir: &Path, target: Target, seconds: u64) -> crate::Result<Outcome> {
    let name = target.name;
    let seeds = fuzz_dir.join("corpus").join(name);
    ensure!(seeds.is_dir(), "no seed corpus at {}", seeds.display());
    let work = fuzz_dir.join("target").join("corpus").join(name);
    let artifacts = fuzz_dir.join("artifacts").join(name);
    let logs = fuzz_dir.join("target").join("logs");
    for dir in [&work, &artifacts, &logs] {
        std::fs::create_dir_all(dir)?;
    }
    let before = findings(&artifacts)?;
    let log_path = logs.join(format!("{name}.log"));
    let mut log = std::fs::File::create(&log_path)?;

    let started = Instant::now();
    // The work corpus first: libFuzzer writes new inputs to the first directory only.
    let mut child = Command::new("cargo")
        .current_dir(fuzz_dir)
        .args(["+nightly", "fuzz", "run"])
        .args(build_flags(target.service))
        .arg(name)
        .arg(&work)
        .arg(&seeds)
        .arg("--")
        .arg(format!("-max_total_time={seconds}"))
        .args(LIBFUZZER_FLAGS)
        .stdout(Stdio::inherit())
        .stderr(Stdio::piped())
        .spawn()?;
    let mut executions = None;
    if let Some(stderr) = child.stderr.take() {
        for line in BufReader::new(stderr).lines() {
            let line = line?;
            writeln!(log, "{line}")?;
            if let Some(n) = executed_units(&line) {
                executions = Some(n);
            }
            if worth_showing(&line) {
                eprintln!("{line}");
            }
        }
    }
    let status = child.wait()?;
    let seconds = started.elapsed().as_secs_f64();
    let new_findings: Vec<PathBuf> = findings(&artifacts)?
        .into_iter()
        .filter(|path| !before.contains(path))
        .collect();
    let corpus = std::fs::read_dir(&work)?.count();
    println!(
        "{name}: {seconds:.0} s, {} executions, corpus {corpus} inputs, {} findings (log: {})",
        executions.map_or_else(|| "?".to_owned(), |n| n.to_string()),
        new_findings.len(),
        log_path.display()
    );
    Ok(Outcome {
        name,
        seconds,
        executions,
        corpus,
        findings: new_findings,
        exit_ok: status.success(),
    })
}

/// libFuzzer logs every new input and, at the end, its whole dictionary: show the periodic
/// pulse, the summary and any report, not thousands of NEW/REDUCE and dictionary lines.
fn worth_showing(line: &str) -> bool {
    let chatter = (line.starts_with('#') && !line.contains("pulse") && !line.contains("DONE"))
        || (line.starts_with('"') && line.contains("# Uses:"))
        || line.starts_with("###### ");
    !chatter
}

/// The run count from libFuzzer's final lines: `stat::number_of_executed_units: N` (with
/// -print_final_stats) or `Done N runs in S second(s)`.
fn executed_units(line: &str) -> Option<u64> {
    if let Some(n) = line.strip_prefix("stat::number_of_executed_units:") {
        return n.trim().parse().ok();
    }
    line.strip_prefix("Done ")?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// libFuzzer's artifacts: crash-, timeout-, oom- and leak- followed by the input's SHA-1.
fn findings(dir: &Path) -> crate::Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if ["crash-", "timeout-", "oom-", "leak-"]
            .iter()
            .any(|p| name.starts_with(p))
        {
            found.push(path);
        }
    }
    found.sort();
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn executions_come_from_libfuzzers_final_lines() {
        assert_eq!(
            executed_units("stat::number_of_executed_units: 123456"),
            Some(123_456)
        );
        assert_eq!(executed_units("Done 999 runs in 60 second(s)"), Some(999));
        assert_eq!(
            executed_units("#4096\tpulse  cov: 1 ft: 1 corp: 1/1b exec/s: 1 rss: 1Mb"),
            None
        );
    }

    #[test]
    fn progress_shows_pulses_and_reports_but_not_every_new_input() {
        assert!(worth_showing(
            "#4096\tpulse  cov: 1 ft: 1 corp: 1/1b exec/s: 1 rss: 1Mb"
        ));
        assert!(worth_showing(
            "==1== ERROR: libFuzzer: out-of-memory (malloc(1385103386))"
        ));
        assert!(worth_showing("stat::number_of_executed_units: 5"));
        assert!(!worth_showing(
            "#80\tNEW    cov: 9255 ft: 16841 corp: 76/126Kb lim: 15898 exec/s: 80 rss: 78Mb"
        ));
        assert!(!worth_showing("\"RIFF\" # Uses: 68"));
        assert!(!worth_showing("###### Recommended dictionary. ######"));
    }

    #[test]
    fn every_target_has_seeds_and_a_fuzz_target_file() {
        let fuzz = crate::project_root().join("fuzz");
        let manifest = std::fs::read_to_string(fuzz.join("Cargo.toml")).unwrap();
        for t in TARGETS {
            assert!(
                fuzz.join("fuzz_targets")
                    .join(format!("{}.rs", t.name))
                    .is_file(),
                "{}",
                t.name
            );
            assert!(
                manifest.contains(&format!("name = \"{}\"", t.name)),
                "{}",
                t.name
            );
            let seeds = std::fs::read_dir(fuzz.join("corpus").join(t.name)).unwrap();
            assert!(seeds.count() > 0, "{} has no seeds", t.name);
        }
    }
}
