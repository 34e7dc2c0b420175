//! Staging and prod: the same roots, different values. They call the same modules with the
//! same inputs, declare the same variables and differ only in terraform.tfvars and backend.tf;
//! prod keeps its guards.

use std::collections::{BTreeMap, BTreeSet};

use hcl::Expression;

use super::support::{
    ENVIRONMENTS, TfFile, assert_none, attr, blocks, label, parse, passes, project_root, str_attr,
    text, tf_files,
};

/// A module call: its source and the names of the arguments it is given.
#[derive(Debug, PartialEq, Eq)]
struct ModuleCall {
    source: String,
    arguments: BTreeSet<String>,
}

fn module_calls(env: &str) -> BTreeMap<String, ModuleCall> {
    let mut calls = BTreeMap::new();
    for file in tf_files(&format!("environments/{env}")) {
        for block in blocks(&file.body, "module") {
            let source = str_attr(block.body(), "source").unwrap_or("").to_owned();
            let arguments = block
                .body()
                .attributes()
                .map(|a| a.key().to_owned())
                .chain(block.body().blocks().map(|b| b.identifier().to_owned()))
                .filter(|k| k != "source")
                .collect();
            calls.insert(label(block, 0).to_owned(), ModuleCall { source, arguments });
        }
    }
    calls
}

#[test]
fn staging_and_prod_call_the_same_modules_with_the_same_inputs() {
    let [staging, prod] = ENVIRONMENTS.map(module_calls);
    assert!(!staging.is_empty(), "environments/staging calls no modules");
    let mut problems = Vec::new();
    let labels: BTreeSet<&String> = staging.keys().chain(prod.keys()).collect();
    for label in labels {
        match (staging.get(label), prod.get(label)) {
            (Some(s), Some(p)) => {
                if s.source != p.source {
                    problems.push(format!(
                        "module.{label}: source is {:?} in staging but {:?} in prod",
                        s.source, p.source
                    ));
                }
                let only_staging: Vec<_> = s.arguments.difference(&p.arguments).collect();
                let only_prod: Vec<_> = p.arguments.difference(&s.arguments).collect();
                if !only_staging.is_empty() || !only_prod.is_empty() {
                    problems.push(format!(
                        "module.{label}: inputs only in staging {only_staging:?}, only in prod {only_prod:?}"
                    ));
                }
            }
            (Some(_), None) => problems.push(format!(
                "module.{label} is called in environments/staging but not in environments/prod"
            )),
            (None, _) => problems.push(format!(
                "module.{label} is called in environments/prod but not in environments/staging"
            )),
        }
    }
    assert_none(problems, "staging and prod differ in structure");
}

#[test]
fn staging_and_prod_declare_the_same_variables() {
    let declared = |env: &str| -> BTreeMap<String, (String, String)> {
        tf_files(&format!("environments/{env}"))
            .iter()
            .flat_map(|f| blocks(&f.body, "variable"))
            .map(|b| {
                let shown = |key| attr(b.body(), key).map(text).unwrap_or_default();
                (label(b, 0).to_owned(), (shown("type"), shown("default")))
            })
            .collect()
    };
    let [staging, prod] = ENVIRONMENTS.map(declared);
    let mut problems = Vec::new();
    for (name, s) in &staging {
        match prod.get(name) {
            None => problems.push(format!(
                "variable \"{name}\" is declared in environments/staging but not in environments/prod"
            )),
            Some(p) if p != s => problems.push(format!(
                "variable \"{name}\": type/default {s:?} in staging but {p:?} in prod (set values in terraform.tfvars)"
            )),
            Some(_) => {}
        }
    }
    for name in prod.keys().filter(|n| !staging.contains_key(*n)) {
        problems.push(format!(
            "variable \"{name}\" is declared in environments/prod but not in environments/staging"
        ));
    }
    assert_none(problems, "staging and prod declare different variables");
}

#[test]
fn staging_and_prod_differ_only_in_terraform_tfvars_and_backend_tf() {
    let files = |env: &str| -> BTreeMap<String, String> {
        std::fs::read_dir(project_root().join("environments").join(env))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.is_file())
            .map(|p| {
                let name = p.file_name().unwrap().to_string_lossy().into_owned();
                (name, std::fs::read_to_string(&p).unwrap_or_default())
            })
            .collect()
    };
    let [staging, prod] = ENVIRONMENTS.map(files);
    let mut problems = Vec::new();
    let names: BTreeSet<&String> = staging.keys().chain(prod.keys()).collect();
    for name in names {
        match (staging.get(name), prod.get(name)) {
            (Some(_), None) | (None, Some(_)) => problems.push(format!(
                "{name} exists in only one of environments/staging and environments/prod"
            )),
            (Some(s), Some(p)) if s != p && name != "terraform.tfvars" && name != "backend.tf" => {
                problems.push(format!(
                    "environments/staging/{name} and environments/prod/{name} differ: put the difference in terraform.tfvars"
                ))
            }
            _ => {}
        }
    }
    // Every value set must be for a declared variable (Terraform only warns otherwise).
    for env in ENVIRONMENTS {
        let declared: BTreeSet<String> = tf_files(&format!("environments/{env}"))
            .iter()
            .flat_map(|f| blocks(&f.body, "variable"))
            .map(|b| label(b, 0).to_owned())
            .collect();
        let tfvars = parse(&project_root().join(format!("environments/{env}/terraform.tfvars")));
        for a in tfvars.body.attributes() {
            if !declared.contains(a.key()) {
                problems.push(format!(
                    "{}: `{}` is not a variable of environments/{env}",
                    tfvars.path,
                    a.key()
                ));
            }
        }
    }
    assert_none(problems, "staging and prod differ beyond their values");
}

fn tfvars(env: &str) -> TfFile {
    parse(&project_root().join(format!("environments/{env}/terraform.tfvars")))
}

#[test]
fn prod_keeps_deletion_protection_pitr_and_a_month_of_logs() {
    let file = tfvars("prod");
    let value = |name: &str| attr(&file.body, name);
    let mut problems = Vec::new();
    for flag in [
        "deletion_protection_enabled",
        "point_in_time_recovery_enabled",
    ] {
        if !matches!(value(flag), Some(Expression::Bool(true))) {
            problems.push(format!("{}: {flag} must be true in prod", file.path));
        }
        if !passes("prod", "database", flag, flag) {
            problems.push(format!(
                "environments/prod: module.database must get {flag} = var.{flag}"
            ));
        }
    }
    if !matches!(value("bucket_force_destroy"), Some(Expression::Bool(false))) {
        problems.push(format!(
            "{}: bucket_force_destroy must be false in prod",
            file.path
        ));
    }
    match value("log_retention_days") {
        Some(Expression::Number(n)) if n.as_f64().is_some_and(|d| d >= 30.0) => {}
        other => problems.push(format!(
            "{}: log_retention_days must be at least 30 in prod, found {:?}",
            file.path,
            other.map(text)
        )),
    }
    for module in ["api", "worker", "api_gateway"] {
        if !passes("prod", module, "log_retention_days", "log_retention_days") {
            problems.push(format!(
                "environments/prod: module.{module} must get log_retention_days = var.log_retention_days"
            ));
        }
    }
    assert_none(problems, "prod is missing a guard");
}

#[test]
fn the_api_function_ends_before_api_gateway_gives_up_and_after_the_longest_wait() {
    // API Gateway answers 504 after 29 s; the longest `Prefer: wait` the service honours:
    let gateway_limit = 29.0;
    let longest_wait = imagegen::http::routes::images::MAX_WAIT_SECS as f64;
    let mut problems = Vec::new();
    for env in ENVIRONMENTS {
        let file = tfvars(env);
        match attr(&file.body, "api_timeout_seconds") {
            Some(Expression::Number(n))
                if n.as_f64().is_some_and(|s| s > longest_wait && s < gateway_limit) => {}
            other => problems.push(format!(
                "{}: api_timeout_seconds must be above {longest_wait} s and below {gateway_limit} s, found {:?}",
                file.path,
                other.map(text)
            )),
        }
        if !passes(env, "api", "timeout", "api_timeout_seconds") {
            problems.push(format!(
                "environments/{env}: module.api must get timeout = var.api_timeout_seconds"
            ));
        }
    }
    assert_none(problems, "the API function's timeout");
}

#[test]
fn a_deleted_staging_secret_is_gone_at_once_and_a_prod_one_can_be_restored() {
    let mut problems = Vec::new();
    for (env, ok) in [
        ("staging", (|d: f64| d == 0.0) as fn(f64) -> bool),
        ("prod", |d: f64| d >= 7.0),
    ] {
        let file = tfvars(env);
        match attr(&file.body, "secret_recovery_window_days") {
            Some(Expression::Number(n)) if n.as_f64().is_some_and(ok) => {}
            other => problems.push(format!(
                "{}: secret_recovery_window_days is {:?}: 0 in staging (a torn-down staging is \
                 re-created under the same names), at least 7 in prod",
                file.path,
                other.map(text)
            )),
        }
        for module in ["secrets", "download_signing_key"] {
            if !passes(
                env,
                module,
                "recovery_window_in_days",
                "secret_recovery_window_days",
            ) {
                problems.push(format!(
                    "environments/{env}: module.{module} must get recovery_window_in_days = var.secret_recovery_window_days"
                ));
            }
        }
    }
    assert_none(problems, "secret recovery windows");
}
