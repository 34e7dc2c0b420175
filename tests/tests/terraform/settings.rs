//! One source of truth for every setting: each environment variable the `api` and `worker`
//! functions read is set by the Terraform that deploys them or has a default in the README's
//! Settings table (and that default is the code's); Terraform sets nothing the code does not
//! read; values that must agree with the infrastructure come from the same setting (one
//! attribute of the environments' `settings`, used where the stack needs it).
//!
//! What each function reads is recorded by running its start-up (`imagegen::aws::api_from_vars`,
//! `worker_from_vars`, exactly what `bin/api.rs` and `bin/worker.rs` call) with a lookup that
//! notes every name asked for.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use imagegen::config::{self, Config, ConfigError, Vars};

use super::support::{STACK, assert_none, function_environments, passes, project_root};

type Lookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// Every name `start` asks for. Required variables are given a placeholder, one by one, until
/// start-up succeeds, so reads after the first required one are seen too.
fn reads(start: &dyn Fn(&Vars<Lookup<'_>>) -> Result<(), ConfigError>) -> BTreeSet<String> {
    let given: RefCell<BTreeMap<&'static str, String>> = RefCell::new(BTreeMap::new());
    loop {
        let seen = RefCell::new(BTreeSet::new());
        let lookup = |name: &str| {
            seen.borrow_mut().insert(name.to_owned());
            given.borrow().get(name).cloned()
        };
        match start(&Vars(&lookup)) {
            Ok(()) => return seen.into_inner(),
            Err(e) => {
                assert!(
                    e.problem.contains("required") && !given.borrow().contains_key(e.var),
                    "start-up failed on a placeholder: {e}"
                );
                given.borrow_mut().insert(e.var, "placeholder".to_owned());
            }
        }
    }
}

/// What each deployed function reads, by its module label in the stack.
fn function_reads() -> BTreeMap<&'static str, BTreeSet<String>> {
    BTreeMap::from([
        (
            "api",
            reads(&|vars| imagegen::aws::api_from_vars(vars).map(drop)),
        ),
        (
            "worker",
            reads(&|vars| imagegen::aws::worker_from_vars(vars).map(drop)),
        ),
    ])
}

/// A row of the README's Settings table.
#[derive(Debug)]
struct Documented {
    read_by: String,
    default: String,
}

/// The README's Settings table by variable (a row may name several), and the variables its
/// "Only the dev server reads" line names.
fn documented() -> (BTreeMap<String, Documented>, BTreeSet<String>) {
    let readme = std::fs::read_to_string(project_root().join("README.md")).unwrap();
    let section = readme
        .split("\n## Settings\n")
        .nth(1)
        .and_then(|rest| rest.split("\n## ").next())
        .unwrap();
    let mut rows = BTreeMap::new();
    let mut dev_only = BTreeSet::new();
    for line in section.lines() {
        if let Some(row) = line.strip_prefix("| `") {
            let cells: Vec<&str> = row.split(" | ").collect();
            assert!(cells.len() >= 4, "README Settings row: {line}");
            for name in backticked(&format!("`{}", cells[0])) {
                rows.insert(
                    name,
                    Documented {
                        read_by: cells[1].to_owned(),
                        default: cells[2].to_owned(),
                    },
                );
            }
        }
    }
    let dev_line = section
        .split("Only the dev server reads:")
        .nth(1)
        .unwrap_or_default();
    let dev_sentence = dev_line.split("\n\n").next().unwrap_or_default();
    for name in backticked(dev_sentence) {
        if looks_like_a_variable(&name) {
            dev_only.insert(name);
        }
    }
    (rows, dev_only)
}

fn backticked(text: &str) -> Vec<String> {
    text.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

fn looks_like_a_variable(name: &str) -> bool {
    name.len() > 4
        && name.contains('_')
        && name
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

/// Environment-variable names quoted in the service's code (its files under `lambda/src`).
fn names_in_code() -> BTreeMap<String, String> {
    fn walk(dir: &Path, out: &mut BTreeMap<String, String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let code = std::fs::read_to_string(&path).unwrap();
                for quoted in code.split('"').skip(1).step_by(2) {
                    let prefixed = ["IMAGEGEN_", "AWS_", "GEMINI_", "RUST_"]
                        .iter()
                        .any(|p| quoted.starts_with(p));
                    if prefixed && looks_like_a_variable(quoted) {
                        let at = path.strip_prefix(project_root()).unwrap();
                        out.entry(quoted.to_owned())
                            .or_insert_with(|| at.display().to_string());
                    }
                }
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(&project_root().join("lambda/src"), &mut out);
    out
}

#[test]
fn every_variable_a_function_reads_is_deployed_or_has_a_documented_default() {
    let (documented, _) = documented();
    let reads = function_reads();
    let mut problems = Vec::new();
    let functions = function_environments();
    for (function, read) in &reads {
        let Some(set) = functions.get(*function) else {
            problems.push(format!("{STACK}: no module.{function}"));
            continue;
        };
        let deployed = read.iter().filter(|v| set.contains_key(*v)).count();
        println!(
            "{STACK}: module.{function} reads {} variables; Terraform sets {} \
                 ({deployed} of them read); {} take a documented default",
            read.len(),
            set.len(),
            read.len() - deployed
        );
        for var in read {
            let at = format!("{STACK}: module.{function} reads {var}");
            let Some(doc) = documented.get(var) else {
                problems.push(format!("{at}, which the README's Settings table omits"));
                continue;
            };
            if !doc.read_by.split([',', ' ']).any(|f| f == *function) {
                problems.push(format!(
                    "{at}, but the README says it is read by {}",
                    doc.read_by
                ));
            }
            if set.contains_key(var) {
                continue;
            }
            if doc.default == "required" {
                problems.push(format!("{at}: required, and Terraform does not set it"));
            }
            // A value one function gets from Terraform and another takes from its default
            // would make them disagree.
            for (other, other_vars) in &functions {
                if other_vars.contains_key(var)
                    && reads.get(other.as_str()).is_some_and(|r| r.contains(var))
                {
                    problems.push(format!(
                        "{at}: module.{other} gets it from Terraform, this function does not"
                    ));
                }
            }
        }
    }
    assert_none(problems, "settings read but not deployed");
}

#[test]
fn terraform_sets_no_variable_its_function_does_not_read() {
    let (documented, _) = documented();
    let reads = function_reads();
    let mut problems = Vec::new();
    for (function, set) in function_environments() {
        let read = reads.get(function.as_str()).cloned().unwrap_or_default();
        for var in set.keys() {
            // Read by a library the function links (lambda_http), as the README says.
            let by_library = documented
                .get(var)
                .is_some_and(|d| d.read_by.contains(&format!("{function} (")));
            if !read.contains(var) && !by_library {
                problems.push(format!(
                    "{STACK}: module.{function} sets {var}, which it never reads"
                ));
            }
        }
    }
    assert_none(problems, "settings deployed but never read");
}

#[test]
fn every_variable_named_in_the_service_code_is_documented() {
    let (documented, dev_only) = documented();
    let problems: Vec<String> = names_in_code()
        .into_iter()
        .filter(|(name, _)| !documented.contains_key(name) && !dev_only.contains(name))
        .map(|(name, at)| format!("{at} names {name}: add it to the README's Settings table"))
        .collect();
    assert_none(problems, "undocumented variables");
    assert!(
        dev_only.contains("IMAGEGEN_ADMIN_KEY") && dev_only.contains("GEMINI_API_KEY"),
        "the dev-only line lists {dev_only:?}"
    );
}

/// Setting a variable to its documented default must change nothing: the README tells the
/// truth about what an unset variable means.
#[test]
fn documented_defaults_are_the_codes_defaults() {
    let (documented, _) = documented();
    let config_reads = reads(&|vars| Config::from_vars(vars).map(drop));
    let gemini_reads = reads(&|vars| config::gemini_config(vars).map(drop));
    let unset = |name: &str| -> Option<String> {
        let _ = name;
        None
    };
    let default_config = Config::from_vars(&Vars(unset)).unwrap();
    let default_gemini = config::gemini_config(&Vars(unset)).unwrap();
    let mut problems = Vec::new();
    let mut checked = 0;
    for var in config_reads.union(&gemini_reads) {
        let Some(doc) = documented.get(var) else {
            problems.push(format!("{var}: not in the README's Settings table"));
            continue;
        };
        let values = backticked(&doc.default);
        let [value] = values.as_slice() else {
            // "none" and "required" have nothing to compare.
            continue;
        };
        let only = |name: &str| (name == var).then(|| value.clone());
        let same = match (
            Config::from_vars(&Vars(only)),
            config::gemini_config(&Vars(only)),
        ) {
            (Ok(c), Ok(g)) => c == default_config && g == default_gemini,
            _ => false,
        };
        if !same {
            problems.push(format!(
                "{var}: the README's default `{value}` is not what the code does when it is unset"
            ));
        }
        checked += 1;
    }
    assert_none(problems, "documented defaults that are wrong");
    assert!(checked >= 20, "only {checked} documented defaults checked");
}

/// The queue's redrive count and the code's last attempt, the worker's timeout, the queue's
/// visibility timeout and the job lease: each from one setting, and the visibility timeout the
/// code reads is the queue module's own.
#[test]
fn values_that_must_agree_with_the_infrastructure_come_from_one_variable() {
    let mut problems = Vec::new();
    let functions = function_environments();
    let agree = [
        (
            "IMAGEGEN_MAX_RECEIVE_COUNT",
            "var.settings.max_receive_count",
        ),
        (
            "IMAGEGEN_WORKER_LEASE_SECONDS",
            "var.settings.worker_timeout_seconds",
        ),
        (
            "IMAGEGEN_QUEUE_VISIBILITY_SECONDS",
            "module.queue.visibility_timeout_seconds",
        ),
    ];
    for (function, vars) in &functions {
        for (var, source) in agree {
            let want = format!("tostring({source})");
            if vars.get(var) != Some(&want) {
                problems.push(format!(
                    "{STACK}: module.{function} sets {var} = {:?}, expected {want}",
                    vars.get(var)
                ));
            }
        }
    }
    for (module, argument, setting) in [
        ("queue", "max_receive_count", "max_receive_count"),
        ("queue", "worker_timeout_seconds", "worker_timeout_seconds"),
        ("worker", "timeout", "worker_timeout_seconds"),
    ] {
        if !passes(module, argument, setting) {
            problems.push(format!(
                "{STACK}: module.{module}.{argument} is not var.settings.{setting}"
            ));
        }
    }
    assert_none(
        problems,
        "settings that can disagree with the infrastructure",
    );
}
