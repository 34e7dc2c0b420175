//! Replays the reference-image fuzz corpora on stable: every seed in fuzz/corpus/<target>/ and
//! every input that ever crashed, hung or blew memory in fuzz/regressions/<target>/, through
//! the fuzz targets' own bodies (fuzz/src/images.rs). `cargo xtask fuzz` finds new inputs;
//! this keeps the old ones fixed.
//!
//! Memory too: the allocator below refuses to hold more than 256 MB at once (one preparation's
//! budget is 160 MB, and these inputs are a few KB), so an input that makes a decoder allocate
//! a gigabyte aborts the run with "memory allocation of N bytes failed" instead of passing on
//! lazily zeroed pages. `-- --nocapture` shows which input was running.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::time::Instant;

#[path = "../../../fuzz/src/images.rs"]
mod harness;

#[global_allocator]
static ALLOCATOR: cap::Cap<std::alloc::System> =
    cap::Cap::new(std::alloc::System, 256 * 1024 * 1024);

type Body = fn(&[u8]) -> Result<(), &'static str>;

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz")
}

/// Runs `body` over a target's seeds and regressions; fails when there are no seeds, so a
/// moved or emptied corpus cannot pass by testing nothing. Returns the refused seeds and why.
fn replay(target: &str, body: Body) -> Vec<(String, &'static str)> {
    let started = Instant::now();
    let mut replayed = [0usize; 2];
    let mut refused = Vec::new();
    for (i, kind) in ["corpus", "regressions"].into_iter().enumerate() {
        let dir = fuzz_dir().join(kind).join(target);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            assert!(kind == "regressions", "no corpus at {}", dir.display());
            continue;
        };
        let mut paths: Vec<PathBuf> = entries.map(|e| e.unwrap().path()).collect();
        paths.sort();
        for path in paths.into_iter().filter(|p| p.is_file()) {
            let data = std::fs::read(&path).unwrap();
            println!("{}", path.display());
            let Ok(result) = std::panic::catch_unwind(|| body(&data)) else {
                panic!("{} fails its invariants", path.display());
            };
            if let (Err(issue), "corpus") = (result, kind) {
                let name = path.file_name().unwrap().to_string_lossy().into_owned();
                refused.push((name, issue));
            }
            replayed[i] += 1;
        }
    }
    assert!(replayed[0] > 0, "the {target} corpus is empty");
    println!(
        "{target}: replayed {} seeds and {} regressions in {:.2?}",
        replayed[0],
        replayed[1],
        started.elapsed()
    );
    refused
}

/// The seeds are valid images a client could send, so each must still be accepted, except the
/// JPEG codings refused on purpose as unsupported (415): arithmetic coding, 12-bit samples and
/// separate component scans (see tests/hostile.rs).
fn accepted_except_unsupported_codings(refused: &[(String, &'static str)]) {
    let unexpected: Vec<_> = refused
        .iter()
        .filter(|(name, issue)| {
            let deliberate = ["arithmetic", "12bit", "non_interleaved"]
                .iter()
                .any(|coding| name.contains(coding));
            !(deliberate && *issue == "unsupported_format")
        })
        .collect();
    assert!(unexpected.is_empty(), "valid seeds refused: {unexpected:?}");
}

#[test]
fn prepare_reference_corpus_replays() {
    let refused = replay("prepare_reference", harness::prepare_default);
    accepted_except_unsupported_codings(&refused);
}

#[test]
fn prepare_reference_small_corpus_replays() {
    let refused = replay("prepare_reference_small", harness::prepare_small);
    accepted_except_unsupported_codings(&refused);
}

#[test]
fn image_header_corpus_replays() {
    let refused = replay("image_header", harness::header);
    assert_eq!(refused, [], "headers of valid seeds refused");
}
