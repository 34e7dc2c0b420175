//! Fuzz target bodies. Each is a plain function over the fuzzer's bytes that panics when an
//! invariant breaks; `fuzz_targets/*.rs` hand them to libFuzzer and the stable replay tests
//! include the same files with `#[path]`, so the corpus and regressions replay through
//! exactly this code in `cargo xtask test`.

pub mod images;
pub mod replay;
#[cfg(feature = "service")]
pub mod service;
