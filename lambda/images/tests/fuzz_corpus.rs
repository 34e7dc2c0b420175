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

use std::path::Path;

#[path = "../../../fuzz/src/images.rs"]
mod harness;
#[path = "../../../fuzz/src/replay.rs"]
mod replay;

#[global_allocator]
static ALLOCATOR: cap::Cap<std::alloc::System> =
    cap::Cap::new(std::alloc::System, 256 * 1024 * 1024);

type Body = fn(&[u8]) -> Result<(), &'static str>;

/// The seeds refused, and why (see `fuzz/src/replay.rs`).
fn replay(target: &str, body: Body) -> Vec<(String, &'static str)> {
    let fuzz_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
    replay::replay(&fuzz_dir, target, body)
        .into_iter()
        .filter_map(|(name, result)| result.err().map(|issue| (name, issue)))
        .collect()
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

/// The seeds are images a model could send: each transcodes, into whichever format its first
/// byte picks, except the JPEG codings refused on purpose.
#[test]
fn transcode_corpus_replays() {
    let refused = replay("transcode", harness::transcode_any);
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
