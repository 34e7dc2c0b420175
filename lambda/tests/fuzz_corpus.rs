//! Replays the service's fuzz corpora on stable: every seed in fuzz/corpus/<target>/ and every
//! input that ever crashed, hung or blew memory in fuzz/regressions/<target>/, through the fuzz
//! targets' own bodies (fuzz/src/service.rs): JSON request bodies, API keys, signed blob URLs
//! and SQS job messages.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

#[path = "../../fuzz/src/service.rs"]
mod harness;
#[path = "../../fuzz/src/replay.rs"]
mod replay;

/// The seeds' results by file name (see `fuzz/src/replay.rs`).
fn replay<T>(target: &str, body: fn(&[u8]) -> T) -> Vec<(String, T)> {
    let fuzz_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
    replay::replay(&fuzz_dir, target, body)
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
