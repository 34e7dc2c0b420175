//! Replays the service's fuzz corpora on stable: every seed in fuzz/corpus/<target>/ and every
//! input that ever crashed, hung or blew memory in fuzz/regressions/<target>/, through the fuzz
//! targets' own bodies (fuzz/src/service.rs): JSON request bodies, API keys, signed blob URLs
//! and SQS job messages.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::time::Instant;

#[path = "../../fuzz/src/service.rs"]
mod harness;

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz")
}

/// Runs `body` over a target's seeds and regressions and returns the seeds' results by file
/// name; fails when there are no seeds, so a moved or emptied corpus cannot pass by testing
/// nothing.
fn replay<T>(target: &str, body: fn(&[u8]) -> T) -> Vec<(String, T)> {
    let started = Instant::now();
    let mut seeds = Vec::new();
    let mut regressions = 0;
    for kind in ["corpus", "regressions"] {
        let dir = fuzz_dir().join(kind).join(target);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            assert!(kind == "regressions", "no corpus at {}", dir.display());
            continue;
        };
        let mut paths: Vec<PathBuf> = entries.map(|e| e.unwrap().path()).collect();
        paths.sort();
        for path in paths.into_iter().filter(|p| p.is_file()) {
            let data = std::fs::read(&path).unwrap();
            let Ok(result) = std::panic::catch_unwind(|| body(&data)) else {
                panic!("{} fails its invariants", path.display());
            };
            if kind == "corpus" {
                let name = path.file_name().unwrap().to_string_lossy().into_owned();
                seeds.push((name, result));
            } else {
                regressions += 1;
            }
        }
    }
    assert!(!seeds.is_empty(), "the {target} corpus is empty");
    println!(
        "{target}: replayed {} seeds and {regressions} regressions in {:.2?}",
        seeds.len(),
        started.elapsed()
    );
    seeds
}

/// The names of the seeds the target accepted.
fn accepted(results: Vec<(String, bool)>) -> Vec<String> {
    results
        .into_iter()
        .filter_map(|(name, ok)| ok.then_some(name))
        .collect()
}

#[test]
fn api_json_corpus_replays() {
    replay("api_json", harness::api_json);
}

#[test]
fn api_key_corpus_replays_and_only_the_issued_keys_are_accepted() {
    // The seeds' constants still match the harness: else the fuzzer starts from keys that
    // never get past the first check.
    assert_eq!(
        accepted(replay("api_key", harness::api_key)),
        ["admin", "valid"]
    );
}

#[test]
fn signed_url_corpus_replays_and_only_the_valid_signatures_are_honoured() {
    assert_eq!(
        accepted(replay("signed_url", harness::signed_url)),
        ["get_valid", "put_valid"]
    );
}

#[test]
fn sqs_message_corpus_replays() {
    replay("sqs_message", harness::sqs_message);
}
