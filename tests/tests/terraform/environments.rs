//! Staging and prod: the same roots, different values. Each is one call of modules/stack (the
//! whole environment) with its settings; they declare the same variables and differ only in
//! terraform.tfvars and backend.tf; every setting is one the stack declares; the moved blocks
//! carry the state of the roots from before the stack into it; prod keeps its guards.

use std::collections::{BTreeMap, BTreeSet};

use hcl::Expression;

use super::support::{
    ENVIRONMENTS, STACK, address, assert_none, attr, blocks, label, parse, passes, project_root,
    settings, settings_type, str_attr, text, tf_files,
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

/// Each environment root is one call of the stack, given the root's settings, their names and
/// the release, and declares nothing of its own that the stack should hold.
#[test]
fn each_environment_is_one_call_of_the_stack() {
    let mut problems = Vec::new();
    for env in ENVIRONMENTS {
        let dir = format!("environments/{env}");
        let files = tf_files(&dir);
        let calls: Vec<_> = files
            .iter()
            .flat_map(|f| blocks(&f.body, "module"))
            .collect();
        match calls.as_slice() {
            [stack] if label(stack, 0) == "stack" => {
                if str_attr(stack.body(), "source") != Some("../../modules/stack") {
                    problems.push(format!(
                        "{dir}: module.stack has source {:?}, not \"../../modules/stack\"",
                        str_attr(stack.body(), "source")
                    ));
                }
                for (argument, want) in [
                    ("settings", "var.settings"),
                    ("setting_names", "keys(var.settings)"),
                    ("release", "var.release"),
                ] {
                    let got = attr(stack.body(), argument).map(text);
                    if got.as_deref() != Some(want) {
                        problems.push(format!(
                            "{dir}: module.stack gets {argument} = {got:?}, expected {want}"
                        ));
                    }
                }
            }
            found => problems.push(format!(
                "{dir}: expected exactly one module call, module \"stack\" {{ source = \"../../modules/stack\" }}; found {:?}",
                found.iter().map(|b| address(b)).collect::<Vec<_>>()
            )),
        }
        // The providers need no resource or data source: anything else belongs in the stack.
        for file in &files {
            for block in file.body.blocks() {
                if matches!(block.identifier(), "resource" | "data") {
                    problems.push(format!(
                        "{}: {} belongs in {STACK}, not in the root",
                        file.path,
                        address(block)
                    ));
                }
            }
        }
    }
    assert_none(problems, "environment roots that are more than the stack");
}

/// Terraform drops an object's attributes that its type does not declare, and a missing
/// required one fails only at plan time: every setting of an environment is an attribute of
/// the stack's `settings`, and every attribute without a default is set.
#[test]
fn every_setting_is_declared_by_the_stack_and_every_required_one_is_set() {
    let declared = settings_type();
    assert!(
        declared.len() > 40,
        "{STACK}: found only {} attributes of settings: is the scan broken?",
        declared.len()
    );
    let mut problems = Vec::new();
    for env in ENVIRONMENTS {
        let settings = settings(env);
        for name in settings.values.keys() {
            if !declared.contains_key(name) {
                problems.push(format!(
                    "{}: settings.{name} is not an attribute of the settings type in {STACK}/variables.tf",
                    settings.path
                ));
            }
        }
        for (name, optional) in &declared {
            if !optional && !settings.values.contains_key(name) {
                problems.push(format!(
                    "{}: settings.{name} is required (not optional(…) in {STACK}/variables.tf) and not set",
                    settings.path
                ));
            }
        }
    }
    assert_none(
        problems,
        "settings the stack does not declare, or required ones not set",
    );
}

/// The roots declared the stack's modules and resources themselves before they called it: a
/// moved block for each (the whole module or resource, instance keys and all) makes the first
/// apply since move their state instead of destroying and re-creating them.
/// The modules and resources each environment root held before modules/stack did: their state
/// must move into the stack. (What the stack gained since never lived in a root: no moved block.)
const ROOT_BEFORE_STACK: [&str; 13] = [
    "aws_iam_role_policy.api_gateway_keys",
    "module.api",
    "module.api_gateway",
    "module.cost",
    "module.database",
    "module.domain",
    "module.download_signing_key",
    "module.downloads",
    "module.observability",
    "module.queue",
    "module.secrets",
    "module.storage",
    "module.worker",
];

#[test]
fn moved_blocks_carry_every_module_and_resource_of_the_stack_from_the_root() {
    let stack: BTreeSet<String> = tf_files(STACK)
        .iter()
        .flat_map(|f| {
            f.body
                .blocks()
                .filter(|b| matches!(b.identifier(), "module" | "resource"))
                .map(address)
                .collect::<Vec<_>>()
        })
        .collect();
    assert!(
        stack.len() >= 10,
        "{STACK}: found only {} modules and resources: is the scan broken?",
        stack.len()
    );
    let mut problems = Vec::new();
    for env in ENVIRONMENTS {
        let dir = format!("environments/{env}");
        let moved: BTreeSet<(String, String)> = tf_files(&dir)
            .iter()
            .flat_map(|f| blocks(&f.body, "moved").cloned().collect::<Vec<_>>())
            .map(|m| {
                let end = |key| attr(m.body(), key).map(text).unwrap_or_default();
                (end("from"), end("to"))
            })
            .collect();
        for address in ROOT_BEFORE_STACK {
            let to = format!("module.stack.{address}");
            if !moved.contains(&(address.to_owned(), to.clone())) {
                problems.push(format!(
                    "{dir}: no moved {{ from = {address}, to = {to} }}: the first apply would destroy {address} and create it again"
                ));
            }
        }
        for (from, to) in &moved {
            let inside = to.strip_prefix("module.stack.").unwrap_or_default();
            if inside != from || !stack.contains(inside) {
                problems.push(format!(
                    "{dir}: moved {{ from = {from}, to = {to} }} does not move a module or resource of {STACK} into module.stack"
                ));
            }
        }
    }
    assert_none(problems, "state the stack would not inherit");
}

#[test]
fn prod_keeps_deletion_protection_pitr_and_a_month_of_logs() {
    let settings = settings("prod");
    let mut problems = Vec::new();
    for flag in [
        "deletion_protection_enabled",
        "point_in_time_recovery_enabled",
    ] {
        if !matches!(settings.get(flag), Some(Expression::Bool(true))) {
            problems.push(format!(
                "{}: settings.{flag} must be true in prod",
                settings.path
            ));
        }
        if !passes("database", flag, flag) {
            problems.push(format!(
                "{STACK}: module.database must get {flag} = var.settings.{flag}"
            ));
        }
    }
    if !matches!(
        settings.get("bucket_force_destroy"),
        Some(Expression::Bool(false))
    ) {
        problems.push(format!(
            "{}: settings.bucket_force_destroy must be false in prod",
            settings.path
        ));
    }
    if !passes("storage", "force_destroy", "bucket_force_destroy") {
        problems.push(format!(
            "{STACK}: module.storage must get force_destroy = var.settings.bucket_force_destroy"
        ));
    }
    match settings.get("log_retention_days") {
        Some(Expression::Number(n)) if n.as_f64().is_some_and(|d| d >= 30.0) => {}
        other => problems.push(format!(
            "{}: settings.log_retention_days must be at least 30 in prod, found {:?}",
            settings.path,
            other.map(text)
        )),
    }
    for module in ["api", "worker", "api_gateway"] {
        if !passes(module, "log_retention_days", "log_retention_days") {
            problems.push(format!(
                "{STACK}: module.{module} must get log_retention_days = var.settings.log_retention_days"
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
        let settings = settings(env);
        match settings.get("api_timeout_seconds") {
            Some(Expression::Number(n))
                if n.as_f64().is_some_and(|s| s > longest_wait && s < gateway_limit) => {}
            other => problems.push(format!(
                "{}: settings.api_timeout_seconds must be above {longest_wait} s and below {gateway_limit} s, found {:?}",
                settings.path,
                other.map(text)
            )),
        }
    }
    if !passes("api", "timeout", "api_timeout_seconds") {
        problems.push(format!(
            "{STACK}: module.api must get timeout = var.settings.api_timeout_seconds"
        ));
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
        let settings = settings(env);
        match settings.get("secret_recovery_window_days") {
            Some(Expression::Number(n)) if n.as_f64().is_some_and(ok) => {}
            other => problems.push(format!(
                "{}: settings.secret_recovery_window_days is {:?}: 0 in staging (a torn-down staging is \
                 re-created under the same names), at least 7 in prod",
                settings.path,
                other.map(text)
            )),
        }
    }
    for module in ["secrets", "download_signing_key"] {
        if !passes(
            module,
            "recovery_window_in_days",
            "secret_recovery_window_days",
        ) {
            problems.push(format!(
                "{STACK}: module.{module} must get recovery_window_in_days = var.settings.secret_recovery_window_days"
            ));
        }
    }
    assert_none(problems, "secret recovery windows");
}

#[test]
fn prod_names_its_account_and_alerts_someone_and_terraform_checks_both() {
    let mut problems = Vec::new();
    let prod = settings("prod");
    match prod.get("aws_account_id") {
        Some(Expression::String(id))
            if id.len() == 12 && id.bytes().all(|b| b.is_ascii_digit()) => {}
        other => problems.push(format!(
            "{}: settings.aws_account_id must be a 12-digit account ID, found {:?}",
            prod.path,
            other.map(text)
        )),
    }
    match prod.get("alert_emails") {
        Some(Expression::Array(emails)) if !emails.is_empty() => {}
        other => problems.push(format!(
            "{}: settings.alert_emails must name at least one subscriber, found {:?}",
            prod.path,
            other.map(text)
        )),
    }
    // The stack refuses a prod without either, and a new account's quota need not be met by
    // staging: its reservations may be null.
    let variables = std::fs::read_to_string(project_root().join(STACK).join("variables.tf"))
        .unwrap()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    for (needed, why) in [
        (
            "condition = var.settings.environment != \"prod\" || length(var.settings.alert_emails) > 0",
            "prod needs an alert subscriber",
        ),
        (
            "condition = var.settings.aws_account_id == null ? var.settings.environment != \"prod\"",
            "prod must name its account",
        ),
        (
            "api_reserved_concurrency = optional(number)",
            "null reserves none",
        ),
        (
            "worker_reserved_concurrency = optional(number)",
            "null reserves none",
        ),
    ] {
        if !variables.contains(needed) {
            problems.push(format!("{STACK}/variables.tf: no `{needed}`: {why}"));
        }
    }
    // Credentials of another account fail the plan, with both providers.
    for env in ENVIRONMENTS {
        let providers = std::fs::read_to_string(
            project_root().join(format!("environments/{env}/providers.tf")),
        )
        .unwrap()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
        let guarded = providers
            .matches("allowed_account_ids = try(var.settings.aws_account_id, null) == null ? null : [var.settings.aws_account_id]")
            .count();
        if guarded != 2 {
            problems.push(format!(
                "environments/{env}/providers.tf: both providers must set allowed_account_ids from settings.aws_account_id ({guarded} do)"
            ));
        }
    }
    assert_none(problems, "prod's account and alerts");
}
