//! Dependency choices that keep the Lambda zips small, and that a `cargo update` or a new
//! feature could undo without failing any other test (`cargo xtask smoke` only reports sizes).

// Assertions unwrap, in helpers too (clippy's allow-unwrap-in-tests covers only #[test] fns).
#![allow(clippy::unwrap_used)]

use imagegen_tests::project_root;

/// `(name, source)` of every package in Cargo.lock; `source` is `None` for local ones.
fn locked_packages() -> Vec<(String, Option<String>)> {
    let lock = std::fs::read_to_string(project_root().join("Cargo.lock")).unwrap();
    lock.split("[[package]]")
        .skip(1)
        .map(|entry| {
            let field = |key: &str| {
                entry.lines().find_map(|line| {
                    line.strip_prefix(key)
                        .and_then(|rest| rest.strip_prefix(" = "))
                        .map(|value| value.trim_matches('"').to_owned())
                })
            };
            (field("name").unwrap(), field("source"))
        })
        .collect()
}

#[test]
fn crc_fast_is_the_local_stand_in() {
    let crc_fast: Vec<_> = locked_packages()
        .into_iter()
        .filter(|(name, _)| name == "crc-fast")
        .collect();
    assert_eq!(
        crc_fast,
        [("crc-fast".to_owned(), None)],
        "crc-fast must resolve to lambda/crc-fast ([patch.crates-io] in Cargo.toml): the \
         registry crate links 664 KB of CRC tables into each binary. If aws-smithy-checksums \
         now needs a newer crc-fast, raise the stand-in's version (and API) to match."
    );
}

#[test]
fn aws_lc_is_not_built() {
    let aws_lc: Vec<_> = locked_packages()
        .into_iter()
        .filter(|(name, _)| name.starts_with("aws-lc"))
        .collect();
    assert!(
        aws_lc.is_empty(),
        "{aws_lc:?} is back in Cargo.lock: TLS is rustls on ring (lambda/src/tls.rs); find what \
         asks for it with `cargo tree -e features -i aws-lc-rs`"
    );
}
