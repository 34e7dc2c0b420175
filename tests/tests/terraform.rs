//! The Terraform's structure, read with hcl-rs: module conventions, staging/prod parity, prod's
//! guards, locked remote state, least-privilege IAM, and the DynamoDB layout the service uses.
//!
//! These run without providers or credentials; `terraform validate` runs in CI.
#![allow(
    clippy::unwrap_used,
    reason = "test helpers: a panic is the failure report (clippy.toml allows it in #[test] fns only)"
)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use hcl::{Block, Body, Expression, ObjectKey};
use imagegen::store::layout::{TABLES, TableLayout};
use imagegen_tests::project_root;

const MODULE_FILES: [&str; 5] = [
    "main.tf",
    "variables.tf",
    "outputs.tf",
    "versions.tf",
    "README.md",
];

/// Staging and prod: the environments that must stay alike.
const ENVIRONMENTS: [&str; 2] = ["staging", "prod"];

// ---------------------------------------------------------------------------------------------
// Reading the Terraform

/// A parsed `.tf` or `.tfvars` file and its path relative to the repository root.
struct TfFile {
    path: String,
    body: Body,
}

fn parse(path: &Path) -> TfFile {
    let shown = path
        .strip_prefix(project_root())
        .unwrap_or(path)
        .display()
        .to_string();
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {shown}: {e}"));
    let body = hcl::parse(&text).unwrap_or_else(|e| panic!("{shown} is not valid HCL: {e}"));
    TfFile { path: shown, body }
}

/// The `.tf` files directly in `dir` (relative to the root), sorted.
fn tf_files(dir: &str) -> Vec<TfFile> {
    let dir = project_root().join(dir);
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|p| p.extension().is_some_and(|ext| ext == "tf"))
        .collect();
    paths.sort();
    paths.iter().map(|p| parse(p)).collect()
}

/// Every `.tf` file under modules/ and environments/, examples included.
fn all_tf_files() -> Vec<TfFile> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if path.is_dir() && !name.starts_with('.') {
                walk(&path, out);
            } else if name.ends_with(".tf") {
                out.push(path);
            }
        }
    }
    let mut paths = Vec::new();
    for root in ["modules", "environments"] {
        walk(&project_root().join(root), &mut paths);
    }
    paths.sort();
    paths.iter().map(|p| parse(p)).collect()
}

/// The module names: the folders under modules/.
fn modules() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(project_root().join("modules"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|p| p.is_dir())
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert!(!names.is_empty(), "no modules under modules/");
    names
}

fn blocks<'a>(body: &'a Body, identifier: &'a str) -> impl Iterator<Item = &'a Block> + 'a {
    body.blocks().filter(move |b| b.identifier() == identifier)
}

fn label(block: &Block, index: usize) -> &str {
    block.labels().get(index).map_or("", |l| l.as_str())
}

/// `resource "type" "name"` → `type.name`, `module "m"` → `module.m`, `locals` → `locals`.
fn address(block: &Block) -> String {
    let labels: Vec<&str> = block.labels().iter().map(|l| l.as_str()).collect();
    match block.identifier() {
        "resource" => labels.join("."),
        "data" => format!("data.{}", labels.join(".")),
        other if labels.is_empty() => other.to_owned(),
        other => format!("{other}.{}", labels.join(".")),
    }
}

fn attr<'a>(body: &'a Body, key: &str) -> Option<&'a Expression> {
    body.attributes().find(|a| a.key() == key).map(|a| a.expr())
}

fn literal_str(expr: &Expression) -> Option<&str> {
    match expr {
        Expression::String(s) => Some(s),
        _ => None,
    }
}

fn str_attr<'a>(body: &'a Body, key: &str) -> Option<&'a str> {
    attr(body, key).and_then(literal_str)
}

fn key_name(key: &ObjectKey) -> String {
    match key {
        ObjectKey::Identifier(id) => id.as_str().to_owned(),
        ObjectKey::Expression(Expression::String(s)) => s.clone(),
        other => hcl::format::to_string(other).unwrap(),
    }
}

/// An expression as HCL text, e.g. `module.database.jobs_table_name`.
fn text(expr: &Expression) -> String {
    hcl::format::to_string(expr).unwrap()
}

/// Fails with every problem found, one per line.
fn assert_none(problems: Vec<String>, what: &str) {
    assert!(problems.is_empty(), "{what}:\n  {}", problems.join("\n  "));
}

// ---------------------------------------------------------------------------------------------
// Module conventions

#[test]
fn every_module_has_the_standard_files_and_a_generated_docs_section() {
    let mut problems = Vec::new();
    for module in modules() {
        let dir = project_root().join("modules").join(&module);
        for file in MODULE_FILES {
            if !dir.join(file).is_file() {
                problems.push(format!("modules/{module}/{file} is missing"));
            }
        }
        if let Ok(readme) = std::fs::read_to_string(dir.join("README.md"))
            && (!readme.contains("<!-- BEGIN_TF_DOCS -->")
                || !readme.contains("<!-- END_TF_DOCS -->"))
        {
            problems.push(format!(
                "modules/{module}/README.md has no <!-- BEGIN_TF_DOCS --> … <!-- END_TF_DOCS --> section for `cargo xtask docs`"
            ));
        }
    }
    assert_none(problems, "modules missing their standard files");
}

#[test]
fn every_module_and_environment_pins_terraform_and_the_aws_provider_minimum() {
    let mut dirs: Vec<String> = modules().iter().map(|m| format!("modules/{m}")).collect();
    dirs.extend(["bootstrap", "staging", "prod"].map(|e| format!("environments/{e}")));
    let mut problems = Vec::new();
    for dir in dirs {
        let where_ = format!("{dir}/versions.tf");
        if !project_root().join(&where_).is_file() {
            problems.push(format!("{where_} is missing"));
            continue;
        }
        let file = parse(&project_root().join(&where_));
        let Some(terraform) = blocks(&file.body, "terraform").next() else {
            problems.push(format!("{where_}: no terraform block"));
            continue;
        };
        match str_attr(terraform.body(), "required_version") {
            Some(v) if v.contains(">=") || v.contains("~>") => {}
            other => problems.push(format!(
                "{where_}: terraform.required_version must set a minimum (>= or ~>), found {other:?}"
            )),
        }
        let aws = blocks(terraform.body(), "required_providers")
            .next()
            .and_then(|providers| attr(providers.body(), "aws"));
        let Some(Expression::Object(aws)) = aws else {
            problems.push(format!(
                "{where_}: terraform.required_providers has no aws = {{ source, version }}"
            ));
            continue;
        };
        let field = |name: &str| {
            aws.iter()
                .find(|(k, _)| key_name(k) == name)
                .and_then(|(_, v)| literal_str(v))
        };
        if field("source") != Some("hashicorp/aws") {
            problems.push(format!(
                "{where_}: required_providers.aws.source must be \"hashicorp/aws\""
            ));
        }
        match field("version") {
            Some(v) if v.contains(">=") || v.contains("~>") => {}
            other => problems.push(format!(
                "{where_}: required_providers.aws.version must set a minimum (>= or ~>), found {other:?}"
            )),
        }
    }
    assert_none(problems, "unpinned Terraform or AWS provider versions");
}

#[test]
fn every_variable_is_typed_and_described_and_every_output_described() {
    let mut problems = Vec::new();
    let mut variables = 0;
    for file in all_tf_files() {
        for block in blocks(&file.body, "variable") {
            variables += 1;
            let name = label(block, 0);
            if attr(block.body(), "type").is_none() {
                problems.push(format!("{}: variable \"{name}\" has no type", file.path));
            }
            if str_attr(block.body(), "description").is_none_or(|d| d.trim().is_empty()) {
                problems.push(format!(
                    "{}: variable \"{name}\" has no description",
                    file.path
                ));
            }
        }
        for block in blocks(&file.body, "output") {
            if str_attr(block.body(), "description").is_none_or(|d| d.trim().is_empty()) {
                problems.push(format!(
                    "{}: output \"{}\" has no description",
                    file.path,
                    label(block, 0)
                ));
            }
        }
    }
    assert!(
        variables > 50,
        "found only {variables} variables: is the scan broken?"
    );
    assert_none(problems, "untyped or undescribed variables and outputs");
}

// ---------------------------------------------------------------------------------------------
// Staging and prod: the same roots, different values

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

/// Where `var.<name>` is passed as `argument` to module `<module>` of an environment.
fn passes(env: &str, module: &str, argument: &str, variable: &str) -> bool {
    tf_files(&format!("environments/{env}"))
        .iter()
        .flat_map(|f| blocks(&f.body, "module"))
        .filter(|b| label(b, 0) == module)
        .any(|b| attr(b.body(), argument).map(text) == Some(format!("var.{variable}")))
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

// ---------------------------------------------------------------------------------------------
// IAM: no wildcard actions in an Allow

/// An action that matches more than one API call (`*`, `s3:*`, `s3:Get*`).
fn is_wildcard(action: &str) -> bool {
    action.contains('*') || action.contains('?')
}

/// Scans HCL for IAM statements that allow wildcard actions; returns the problems found and
/// how many allow statements were looked at.
fn wildcard_grants(file: &TfFile) -> (Vec<String>, usize) {
    let mut scan = Scan {
        file: &file.path,
        problems: Vec::new(),
        statements: 0,
    };
    for block in file.body.blocks() {
        scan.block(block, &address(block));
    }
    (scan.problems, scan.statements)
}

struct Scan<'a> {
    file: &'a str,
    problems: Vec<String>,
    statements: usize,
}

impl Scan<'_> {
    fn block(&mut self, block: &Block, at: &str) {
        let is_policy_document =
            block.identifier() == "data" && label(block, 0) == "aws_iam_policy_document";
        for (n, inner) in block.body().blocks().enumerate() {
            let inner_at = format!("{at} {} #{}", inner.identifier(), n + 1);
            // statement { … } and dynamic "statement" { content { … } }
            let statement = match inner.identifier() {
                "statement" => Some(inner.body()),
                "dynamic" if label(inner, 0) == "statement" => {
                    blocks(inner.body(), "content").next().map(Block::body)
                }
                _ => None,
            };
            match statement {
                Some(body) if is_policy_document => self.statement_block(body, &inner_at),
                _ => self.block(inner, &inner_at),
            }
        }
        for a in block.body().attributes() {
            self.expr(a.expr(), &format!("{at} {}", a.key()));
        }
    }

    /// A `statement` block of an `aws_iam_policy_document`.
    fn statement_block(&mut self, body: &Body, at: &str) {
        let at = match str_attr(body, "sid") {
            Some(sid) => format!("{at} (sid {sid})"),
            None => at.to_owned(),
        };
        if str_attr(body, "effect").unwrap_or("Allow") == "Deny" {
            return;
        }
        if attr(body, "not_actions").is_some() {
            self.problems.push(format!(
                "{}: {at}: an Allow with not_actions grants every other action",
                self.file
            ));
        }
        if let Some(actions) = attr(body, "actions") {
            self.actions(actions, &at);
        }
        for a in body.attributes() {
            self.expr(a.expr(), &format!("{at} {}", a.key()));
        }
    }

    /// Any expression: objects shaped like statements (`actions`/`Action` with an effect),
    /// inside locals, module arguments and `jsonencode(…)` policies; JSON policy strings.
    fn expr(&mut self, expr: &Expression, at: &str) {
        match expr {
            Expression::Object(object) => {
                let field = |names: &[&str]| {
                    object
                        .iter()
                        .find(|(k, _)| names.contains(&key_name(k).as_str()))
                        .map(|(_, v)| v)
                };
                let actions = field(&["actions", "Action"]);
                if let Some(actions) = actions {
                    let effect = field(&["effect", "Effect"])
                        .and_then(literal_str)
                        .unwrap_or("Allow");
                    let at = match field(&["sid", "Sid"]).and_then(literal_str) {
                        Some(sid) => format!("{at} (sid {sid})"),
                        None => at.to_owned(),
                    };
                    if effect != "Deny" {
                        self.actions(actions, &at);
                        if field(&["not_actions", "NotAction"]).is_some() {
                            self.problems.push(format!(
                                "{}: {at}: an Allow with NotAction grants every other action",
                                self.file
                            ));
                        }
                    }
                }
                for (k, v) in object.iter() {
                    self.expr(v, &format!("{at}.{}", key_name(k)));
                }
            }
            Expression::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    self.expr(item, &format!("{at}[{i}]"));
                }
            }
            Expression::FuncCall(call) => {
                for (i, arg) in call.args.iter().enumerate() {
                    self.expr(
                        arg,
                        &format!("{at} {}(arg {})", call.name.name.as_str(), i + 1),
                    );
                }
            }
            Expression::Parenthesis(inner) => self.expr(inner, at),
            Expression::Conditional(c) => {
                self.expr(&c.true_expr, at);
                self.expr(&c.false_expr, at);
            }
            // A policy written as a JSON string or heredoc; interpolations become placeholders.
            Expression::String(s) if s.contains("Statement") => self.json_text(s, at),
            Expression::TemplateExpr(template) => {
                let raw = match template.as_ref() {
                    hcl::TemplateExpr::QuotedString(s) => s.as_str(),
                    hcl::TemplateExpr::Heredoc(h) => h.template.as_str(),
                };
                if raw.contains("Statement") {
                    self.json_text(&without_interpolations(raw), at);
                }
            }
            _ => {}
        }
    }

    fn json_text(&mut self, text: &str, at: &str) {
        if let Ok(json) = serde_json::from_str::<serde_json::Value>(text) {
            self.json(&json, at);
        }
    }

    fn json(&mut self, json: &serde_json::Value, at: &str) {
        use serde_json::Value;
        match json {
            Value::Object(map) => {
                if let Some(action) = map.get("Action")
                    && map.get("Effect").and_then(Value::as_str) != Some("Deny")
                {
                    self.statements += 1;
                    let actions: Vec<&str> = match action {
                        Value::String(a) => vec![a],
                        Value::Array(items) => items.iter().filter_map(Value::as_str).collect(),
                        _ => Vec::new(),
                    };
                    for a in actions.into_iter().filter(|a| is_wildcard(a)) {
                        self.problems.push(format!(
                            "{}: {at}: the JSON policy allows wildcard action \"{a}\"",
                            self.file
                        ));
                    }
                }
                for v in map.values() {
                    self.json(v, at);
                }
            }
            Value::Array(items) => items.iter().for_each(|v| self.json(v, at)),
            _ => {}
        }
    }

    fn actions(&mut self, actions: &Expression, at: &str) {
        // Computed actions (`statement.value.actions`) come from the module's
        // policy_statements variable, whose validation rejects wildcards.
        let literals: Vec<&str> = match actions {
            Expression::String(a) => vec![a],
            Expression::Array(items) => items.iter().filter_map(literal_str).collect(),
            _ => return,
        };
        self.statements += 1;
        for action in literals.into_iter().filter(|a| is_wildcard(a)) {
            self.problems.push(format!(
                "{}: {at}: allows wildcard action \"{action}\" (name the exact actions; only a Deny may use wildcards)",
                self.file
            ));
        }
    }
}

/// `"${aws_s3_bucket.x.arn}/*"` → `"x/*"`: enough to read a templated policy as JSON.
fn without_interpolations(template: &str) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        out.push('x');
        let mut depth = 0;
        let mut end = rest.len();
        for (i, c) in rest[start..].char_indices() {
            match c {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        end = start + i + 1;
                        break;
                    }
                }
                _ => {}
            }
        }
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

#[test]
fn no_iam_policy_allows_a_wildcard_action() {
    let mut problems = Vec::new();
    let mut statements = 0;
    for file in all_tf_files() {
        let (found, scanned) = wildcard_grants(&file);
        problems.extend(found);
        statements += scanned;
    }
    assert!(
        statements >= 30,
        "scanned only {statements} allow statements: is the scan broken?"
    );
    assert_none(problems, "IAM policies that allow wildcard actions");
}

#[test]
fn the_wildcard_scan_finds_each_form_and_allows_denies() {
    let file = TfFile {
        path: "snippet.tf".to_owned(),
        body: hcl::parse(
            r#"
data "aws_iam_policy_document" "doc" {
  statement {
    sid       = "Bad"
    actions   = ["s3:GetObject", "s3:*"]
    resources = ["*"]
  }
  statement {
    effect    = "Deny"
    actions   = ["*"]
    resources = ["*"]
  }
  dynamic "statement" {
    for_each = [1]
    content {
      actions = ["dynamodb:Get*"]
    }
  }
}

locals {
  statements = concat([{ sid = "Local", actions = ["*"], resources = ["*"] }], [])
}

resource "aws_iam_role_policy" "inline" {
  policy = jsonencode({
    Statement = [
      { Effect = "Allow", Action = "sqs:*", Resource = "*" },
      { Effect = "Deny", Action = "*", Resource = "*" },
    ]
  })
}

resource "aws_iam_policy" "heredoc" {
  policy = <<-EOT
    {"Statement": [{"Effect": "Allow", "Action": ["kms:*"], "Resource": "*"}]}
  EOT
}
"#,
        )
        .unwrap(),
    };
    let (problems, _) = wildcard_grants(&file);
    let wanted = [
        "\"s3:*\"",
        "\"dynamodb:Get*\"",
        "(sid Local)",
        "\"sqs:*\"",
        "\"kms:*\"",
    ];
    for needle in wanted {
        assert!(
            problems.iter().any(|p| p.contains(needle)),
            "{needle} not reported: {problems:#?}"
        );
    }
    assert_eq!(
        problems.len(),
        wanted.len(),
        "a Deny was reported: {problems:#?}"
    );
}

// ---------------------------------------------------------------------------------------------
// DynamoDB: the tables the service's code uses

/// A table as the database module declares it.
/// A declared index: (hash key, range key, projection type).
type DeclaredIndex = (Option<String>, Option<String>, Option<String>);

#[derive(Debug, Default)]
struct DeclaredTable {
    resource: String,
    hash_key: Option<String>,
    range_key: Option<String>,
    attributes: BTreeMap<String, String>,
    ttl: Option<(String, bool)>,
    billing_mode: Option<String>,
    indexes: BTreeMap<String, DeclaredIndex>,
    local_indexes: usize,
}

fn declared_tables() -> (String, BTreeMap<String, DeclaredTable>) {
    let mut tables = BTreeMap::new();
    let mut path = String::new();
    for file in tf_files("modules/database") {
        for block in blocks(&file.body, "resource").filter(|b| label(b, 0) == "aws_dynamodb_table")
        {
            path.clone_from(&file.path);
            let body = block.body();
            let name = attr(body, "name").map(text).unwrap_or_default();
            let suffix = name
                .trim_matches('"')
                .strip_prefix("${var.name_prefix}-")
                .unwrap_or(&name)
                .to_owned();
            let string = |b: &Body, key| str_attr(b, key).map(str::to_owned);
            let table = DeclaredTable {
                resource: address(block),
                hash_key: string(body, "hash_key"),
                range_key: string(body, "range_key"),
                attributes: blocks(body, "attribute")
                    .map(|a| {
                        (
                            string(a.body(), "name").unwrap_or_default(),
                            string(a.body(), "type").unwrap_or_default(),
                        )
                    })
                    .collect(),
                ttl: blocks(body, "ttl").next().map(|t| {
                    (
                        string(t.body(), "attribute_name").unwrap_or_default(),
                        matches!(attr(t.body(), "enabled"), Some(Expression::Bool(true))),
                    )
                }),
                billing_mode: string(body, "billing_mode"),
                indexes: blocks(body, "global_secondary_index")
                    .map(|i| {
                        (
                            string(i.body(), "name").unwrap_or_default(),
                            (
                                string(i.body(), "hash_key"),
                                string(i.body(), "range_key"),
                                string(i.body(), "projection_type"),
                            ),
                        )
                    })
                    .collect(),
                local_indexes: blocks(body, "local_secondary_index").count(),
            };
            tables.insert(suffix, table);
        }
    }
    (path, tables)
}

fn compare_table(layout: &TableLayout, table: &DeclaredTable, at: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let mut expect = |what: &str, want: Option<&str>, got: Option<&str>| {
        if want != got {
            problems.push(format!(
                "{at}: {what} is {got:?}, the service uses {want:?}"
            ));
        }
    };
    expect("hash_key", Some(layout.hash_key), table.hash_key.as_deref());
    expect("range_key", layout.range_key, table.range_key.as_deref());
    expect(
        "ttl.attribute_name",
        layout.ttl_attribute,
        table
            .ttl
            .as_ref()
            .filter(|(_, on)| *on)
            .map(|(name, _)| name.as_str()),
    );
    expect(
        "billing_mode",
        Some("PAY_PER_REQUEST"),
        table.billing_mode.as_deref(),
    );

    for index in layout.indexes {
        match table.indexes.get(index.name) {
            None => problems.push(format!(
                "{at}: global_secondary_index \"{}\" is missing",
                index.name
            )),
            Some((hash, range, projection)) => {
                if hash.as_deref() != Some(index.hash_key) || range.as_deref() != index.range_key {
                    problems.push(format!(
                        "{at}: index \"{}\" is keyed ({hash:?}, {range:?}), the service uses ({:?}, {:?})",
                        index.name, index.hash_key, index.range_key
                    ));
                }
                if projection.as_deref() != Some(index.projection) {
                    problems.push(format!(
                        "{at}: index \"{}\" projects {projection:?}, the service reads {}",
                        index.name, index.projection
                    ));
                }
            }
        }
    }
    for name in table.indexes.keys() {
        if !layout.indexes.iter().any(|i| i.name == name) {
            problems.push(format!(
                "{at}: global_secondary_index \"{name}\" is not in the service's layout (lambda/src/store/layout.rs)"
            ));
        }
    }
    if table.local_indexes > 0 {
        problems.push(format!(
            "{at}: local secondary indexes are not in the service's layout"
        ));
    }

    // DynamoDB wants exactly the key attributes declared, each a string here.
    let keys: BTreeSet<&str> = [Some(layout.hash_key), layout.range_key]
        .into_iter()
        .chain(
            layout
                .indexes
                .iter()
                .flat_map(|i| [Some(i.hash_key), i.range_key]),
        )
        .flatten()
        .collect();
    let declared: BTreeSet<&str> = table.attributes.keys().map(String::as_str).collect();
    if keys != declared {
        problems.push(format!(
            "{at}: attribute blocks declare {declared:?}; the keys are {keys:?}"
        ));
    }
    for (name, type_) in &table.attributes {
        if type_ != "S" {
            problems.push(format!(
                "{at}: attribute \"{name}\" has type {type_:?}, not \"S\""
            ));
        }
    }
    problems
}

#[test]
fn the_database_module_declares_exactly_the_tables_the_service_uses() {
    let (path, tables) = declared_tables();
    let mut problems = Vec::new();
    for layout in TABLES {
        match tables.get(layout.suffix) {
            None => problems.push(format!(
                "modules/database: no aws_dynamodb_table named \"${{var.name_prefix}}-{}\"",
                layout.suffix
            )),
            Some(table) => problems.extend(compare_table(
                &layout,
                table,
                &format!("{path}: {}", table.resource),
            )),
        }
    }
    for (suffix, table) in &tables {
        if !TABLES.iter().any(|t| t.suffix == suffix) {
            problems.push(format!(
                "{path}: {} (\"{suffix}\") is not a table of the service's layout (lambda/src/store/layout.rs)",
                table.resource
            ));
        }
    }
    assert_none(
        problems,
        "the database module and the service's table layout differ",
    );
}

/// The names and values of a module's `environment_variables`, following `merge(…)` and
/// `local.…` references.
fn environment_variables(
    expr: &Expression,
    locals: &BTreeMap<String, Expression>,
    out: &mut BTreeMap<String, String>,
) {
    match expr {
        Expression::Object(object) => {
            for (k, v) in object.iter() {
                out.insert(key_name(k), text(v));
            }
        }
        Expression::FuncCall(call) if call.name.name.as_str() == "merge" => {
            for arg in &call.args {
                environment_variables(arg, locals, out);
            }
        }
        other => {
            let reference = text(other);
            if let Some(local) = reference.strip_prefix("local.").and_then(|l| locals.get(l)) {
                environment_variables(local, locals, out);
            }
        }
    }
}

/// Each `lambda_function` module of an environment (by label: `api`, `worker`) and the
/// environment variables it sets, as HCL text.
fn function_environments(env: &str) -> BTreeMap<String, BTreeMap<String, String>> {
    let files = tf_files(&format!("environments/{env}"));
    let locals: BTreeMap<String, Expression> = files
        .iter()
        .flat_map(|f| blocks(&f.body, "locals"))
        .flat_map(|b| b.body().attributes())
        .map(|a| (a.key().to_owned(), a.expr().clone()))
        .collect();
    files
        .iter()
        .flat_map(|f| blocks(&f.body, "module"))
        .filter(|b| {
            str_attr(b.body(), "source").is_some_and(|s| s.ends_with("modules/lambda_function"))
        })
        .map(|function| {
            let mut vars = BTreeMap::new();
            if let Some(expr) = attr(function.body(), "environment_variables") {
                environment_variables(expr, &locals, &mut vars);
            }
            (label(function, 0).to_owned(), vars)
        })
        .collect()
}

#[test]
fn every_function_gets_every_table_name_from_the_database_module() {
    let mut problems = Vec::new();
    for env in ENVIRONMENTS {
        let functions = function_environments(env);
        if functions.is_empty() {
            problems.push(format!("environments/{env}: no lambda_function modules"));
        }
        for (function, vars) in functions {
            let at = format!("environments/{env}: module.{function}");
            for table in TABLES {
                let want = format!(
                    "module.database.{}_table_name",
                    table.suffix.replace('-', "_")
                );
                match vars.get(table.env_var) {
                    None => problems.push(format!(
                        "{at}: environment_variables has no {} (the {} table's name)",
                        table.env_var, table.suffix
                    )),
                    Some(got) if *got != want => {
                        problems.push(format!("{at}: {} = {got}, expected {want}", table.env_var))
                    }
                    Some(_) => {}
                }
            }
        }
    }
    assert_none(problems, "functions are missing table names");
}

// The settings the functions read against what the environments set.
#[path = "terraform/settings.rs"]
mod settings;

// The janitor's schedule.
#[path = "terraform/janitor.rs"]
mod janitor;

// Downloads through CloudFront: nosniff on every response, signed URLs only.
#[path = "terraform/downloads.rs"]
mod downloads;

// ---------------------------------------------------------------------------------------------
// CI

#[test]
fn ci_validates_every_module_and_environment() {
    let ci = std::fs::read_to_string(project_root().join(".github/workflows/ci.yml")).unwrap();
    let targets: Vec<&str> = ci
        .lines()
        .filter_map(|l| l.trim().strip_prefix("- "))
        .map(str::trim)
        .filter(|l| l.starts_with("modules/") || l.starts_with("environments/"))
        .collect();
    let mut problems = Vec::new();
    for module in modules() {
        let dir = format!("modules/{module}");
        let example = format!("{dir}/examples/");
        if !targets.iter().any(|t| *t == dir || t.starts_with(&example)) {
            problems.push(format!(
                ".github/workflows/ci.yml: the terraform-validate matrix does not list {dir} (or one of its examples)"
            ));
        }
    }
    for target in &targets {
        if !project_root().join(target).is_dir() {
            problems.push(format!(".github/workflows/ci.yml: {target} does not exist"));
        }
    }
    for env in ["bootstrap", "staging", "prod"] {
        let dir = format!("environments/{env}");
        if !targets.contains(&dir.as_str()) {
            problems.push(format!(
                ".github/workflows/ci.yml: the terraform-validate matrix does not list {dir}"
            ));
        }
    }
    assert_none(problems, "Terraform that CI does not validate");
}

// ---------------------------------------------------------------------------------------------
// Deploy

/// The AWS calls `cargo xtask deploy` makes, as its dry runs list them (`aws <service>:<Op>`
/// lines in the snapshots of xtask/tests/dry_run.rs).
fn deploy_calls() -> BTreeSet<String> {
    let dir = project_root().join("xtask/tests/snapshots");
    let mut calls = BTreeSet::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if !path.to_string_lossy().ends_with(".snap") {
            continue;
        }
        for line in std::fs::read_to_string(&path).unwrap().lines() {
            if let Some(call) = line.trim().strip_prefix("aws ") {
                calls.insert(call.split_whitespace().next().unwrap().to_owned());
            }
        }
    }
    calls
}

#[test]
fn the_ci_deploy_role_may_make_every_aws_call_of_a_deploy() {
    let calls = deploy_calls();
    for expected in ["s3:PutObject", "s3:GetObject", "lambda:UpdateAlias"] {
        assert!(calls.contains(expected), "no {expected} in {calls:?}");
    }
    let policy =
        std::fs::read_to_string(project_root().join("environments/bootstrap/deploy_policy.tf"))
            .unwrap();
    let mut problems = Vec::new();
    for call in &calls {
        let action = match call.as_str() {
            // Allowed to every caller.
            "sts:GetCallerIdentity" => continue,
            // HeadObject is authorised by s3:GetObject.
            "s3:HeadObject" => "s3:GetObject",
            other => other,
        };
        if !policy.contains(&format!("\"{action}\"")) {
            problems.push(format!("{call} needs {action}"));
        }
    }
    // Releases are zips under lambda/ and manifests under releases/.
    for objects in ["lambda/*", "releases/*"] {
        if !policy.contains(&format!("\"${{local.artifs_arn}}/{objects}\"")) {
            problems.push(format!("no statement on the artifact bucket's {objects}"));
        }
    }
    assert_none(
        problems,
        "environments/bootstrap/deploy_policy.tf does not allow what `cargo xtask deploy` calls",
    );
}

#[test]
fn the_deploy_workflow_assumes_the_role_with_oidc_and_deploys_one_release_per_environment() {
    let workflow =
        std::fs::read_to_string(project_root().join(".github/workflows/deploy.yml")).unwrap();
    let mut problems = Vec::new();
    for (needed, why) in [
        ("branches: [main]", "it deploys every push to main"),
        (
            "id-token: write",
            "the deploy jobs get AWS credentials through OIDC",
        ),
        (
            "role-to-assume: ${{ vars.AWS_DEPLOY_ROLE_ARN }}",
            "the role of environments/bootstrap",
        ),
        (
            "run: cargo xtask zip",
            "the zips are built once, in the build job",
        ),
        (
            "environment: staging",
            "staging deploys from the `staging` environment",
        ),
        (
            "environment: production",
            "prod deploys from the protected `production` environment",
        ),
        (
            "--zips target/lambda",
            "staging deploys the build job's zips",
        ),
        (
            "--artifact \"${{ needs.staging.outputs.release }}\"",
            "prod deploys the release staging deployed",
        ),
        ("group: deploy-staging", "one staging deployment at a time"),
        ("group: deploy-prod", "one prod deployment at a time"),
    ] {
        if !workflow.contains(needed) {
            problems.push(format!("no `{needed}`: {why}"));
        }
    }
    for stored_keys in [
        "aws-access-key-id",
        "aws-secret-access-key",
        "AWS_SECRET_ACCESS_KEY",
    ] {
        if workflow.contains(stored_keys) {
            problems.push(format!(
                "`{stored_keys}`: no stored AWS keys, the role is assumed with OIDC"
            ));
        }
    }
    if workflow.contains("cancel-in-progress: true") {
        problems.push("a deployment in progress must not be cancelled".into());
    }
    // The deploy role trusts exactly the GitHub environments the workflow deploys from.
    let default = tf_files("environments/bootstrap")
        .iter()
        .flat_map(|f| blocks(&f.body, "variable").cloned().collect::<Vec<_>>())
        .find(|b| label(b, 0) == "github_environments")
        .and_then(|b| attr(b.body(), "default").map(text))
        .unwrap_or_default();
    for environment in ["staging", "production"] {
        if !default.contains(&format!("\"{environment}\"")) {
            problems.push(format!(
                "environments/bootstrap: github_environments does not default to include `{environment}`"
            ));
        }
    }
    assert_none(problems, ".github/workflows/deploy.yml");
}
