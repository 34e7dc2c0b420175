//! Remote state: staging and prod keep theirs in S3, locked and encrypted, each under its own
//! key; the bootstrap, which creates the state bucket, has no backend.

use std::collections::BTreeSet;

use hcl::{Block, Expression};

use super::support::{
    ENVIRONMENTS, assert_none, attr, blocks, label, parse, project_root, str_attr, tf_files,
};

#[test]
fn remote_state_is_in_s3_locked_and_encrypted_and_bootstrap_has_no_backend() {
    let mut problems = Vec::new();
    let mut keys = BTreeSet::new();
    for env in ENVIRONMENTS {
        let path = format!("environments/{env}/backend.tf");
        if !project_root().join(&path).is_file() {
            problems.push(format!("{path} is missing"));
            continue;
        }
        let file = parse(&project_root().join(&path));
        let backends: Vec<&Block> = blocks(&file.body, "terraform")
            .flat_map(|t| blocks(t.body(), "backend"))
            .collect();
        let [backend] = backends.as_slice() else {
            problems.push(format!(
                "{path}: expected one terraform.backend block, found {}",
                backends.len()
            ));
            continue;
        };
        if label(backend, 0) != "s3" {
            problems.push(format!(
                "{path}: backend is {:?}, not \"s3\"",
                label(backend, 0)
            ));
        }
        for setting in ["use_lockfile", "encrypt"] {
            if !matches!(attr(backend.body(), setting), Some(Expression::Bool(true))) {
                problems.push(format!("{path}: backend \"s3\" must set {setting} = true"));
            }
        }
        match str_attr(backend.body(), "key") {
            Some(key) if key.contains(env) => {
                keys.insert(key.to_owned());
            }
            other => problems.push(format!(
                "{path}: the state key {other:?} must name the environment"
            )),
        }
    }
    if problems.is_empty() && keys.len() != ENVIRONMENTS.len() {
        problems.push("staging and prod share a state key".to_owned());
    }
    for file in tf_files("environments/bootstrap") {
        if blocks(&file.body, "terraform").any(|t| blocks(t.body(), "backend").next().is_some()) {
            problems.push(format!(
                "{}: bootstrap creates the state bucket, so it cannot have a backend",
                file.path
            ));
        }
    }
    assert_none(problems, "remote state misconfigured");
}
