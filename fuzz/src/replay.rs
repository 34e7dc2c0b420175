//! Replays a target's seeds (fuzz/corpus/<target>/) and every input that ever crashed, hung or
//! blew memory (fuzz/regressions/<target>/) through its body, for the stable replay tests
//! (`lambda/tests/fuzz_corpus.rs`, `lambda/images/tests/fuzz_corpus.rs`).

use std::path::{Path, PathBuf};
use std::time::Instant;

/// Runs `body` over `target`'s seeds and regressions under `fuzz_dir` and returns the seeds'
/// results by file name. Fails when there are no seeds, so a moved or emptied corpus cannot
/// pass by testing nothing, and names the input whose invariants broke. Each path is printed
/// before it runs: an input that aborts the process (memory) is the last one shown.
pub fn replay<T>(fuzz_dir: &Path, target: &str, body: fn(&[u8]) -> T) -> Vec<(String, T)> {
    let started = Instant::now();
    let mut seeds = Vec::new();
    let mut regressions = 0;
    for kind in ["corpus", "regressions"] {
        let dir = fuzz_dir.join(kind).join(target);
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
