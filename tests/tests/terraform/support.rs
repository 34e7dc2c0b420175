//! Reading the Terraform with hcl-rs, shared by every concern of this test target: parsed files,
//! block and attribute accessors, the environments' settings, and what the stack (the module each
//! environment root calls) passes to its modules.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use hcl::{Block, Body, Expression, ObjectKey};
pub(crate) use imagegen_tests::project_root;

/// Staging and prod: the environments that must stay alike.
pub(crate) const ENVIRONMENTS: [&str; 2] = ["staging", "prod"];

/// The module that is the whole of staging or prod: each environment root is one call of it.
pub(crate) const STACK: &str = "modules/stack";

// ---------------------------------------------------------------------------------------------
// Reading the Terraform

/// A parsed `.tf` or `.tfvars` file and its path relative to the repository root.
pub(crate) struct TfFile {
    pub(crate) path: String,
    pub(crate) body: Body,
}

pub(crate) fn parse(path: &Path) -> TfFile {
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
pub(crate) fn tf_files(dir: &str) -> Vec<TfFile> {
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
pub(crate) fn all_tf_files() -> Vec<TfFile> {
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
pub(crate) fn modules() -> Vec<String> {
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

pub(crate) fn blocks<'a>(
    body: &'a Body,
    identifier: &'a str,
) -> impl Iterator<Item = &'a Block> + 'a {
    body.blocks().filter(move |b| b.identifier() == identifier)
}

pub(crate) fn label(block: &Block, index: usize) -> &str {
    block.labels().get(index).map_or("", |l| l.as_str())
}

/// `resource "type" "name"` → `type.name`, `module "m"` → `module.m`, `locals` → `locals`.
pub(crate) fn address(block: &Block) -> String {
    let labels: Vec<&str> = block.labels().iter().map(|l| l.as_str()).collect();
    match block.identifier() {
        "resource" => labels.join("."),
        "data" => format!("data.{}", labels.join(".")),
        other if labels.is_empty() => other.to_owned(),
        other => format!("{other}.{}", labels.join(".")),
    }
}

pub(crate) fn attr<'a>(body: &'a Body, key: &str) -> Option<&'a Expression> {
    body.attributes().find(|a| a.key() == key).map(|a| a.expr())
}

pub(crate) fn literal_str(expr: &Expression) -> Option<&str> {
    match expr {
        Expression::String(s) => Some(s),
        _ => None,
    }
}

pub(crate) fn str_attr<'a>(body: &'a Body, key: &str) -> Option<&'a str> {
    attr(body, key).and_then(literal_str)
}

pub(crate) fn key_name(key: &ObjectKey) -> String {
    match key {
        ObjectKey::Identifier(id) => id.as_str().to_owned(),
        ObjectKey::Expression(Expression::String(s)) => s.clone(),
        other => hcl::format::to_string(other).unwrap(),
    }
}

/// An expression as HCL text, e.g. `module.database.jobs_table_name`.
pub(crate) fn text(expr: &Expression) -> String {
    hcl::format::to_string(expr).unwrap()
}

/// Fails with every problem found, one per line.
pub(crate) fn assert_none(problems: Vec<String>, what: &str) {
    assert!(problems.is_empty(), "{what}:\n  {}", problems.join("\n  "));
}

/// Where `var.settings.<setting>` is passed as `argument` to module `<module>` of the stack.
pub(crate) fn passes(module: &str, argument: &str, setting: &str) -> bool {
    tf_files(STACK)
        .iter()
        .flat_map(|f| blocks(&f.body, "module"))
        .filter(|b| label(b, 0) == module)
        .any(|b| attr(b.body(), argument).map(text) == Some(format!("var.settings.{setting}")))
}

/// An environment's settings: the `settings = { … }` object of its terraform.tfvars.
pub(crate) struct Settings {
    /// `environments/<env>/terraform.tfvars`.
    pub(crate) path: String,
    pub(crate) values: BTreeMap<String, Expression>,
}

impl Settings {
    pub(crate) fn get(&self, name: &str) -> Option<&Expression> {
        self.values.get(name)
    }
}

pub(crate) fn settings(env: &str) -> Settings {
    let file = parse(&project_root().join(format!("environments/{env}/terraform.tfvars")));
    let values = match attr(&file.body, "settings") {
        Some(Expression::Object(object)) => object
            .iter()
            .map(|(k, v)| (key_name(k), v.clone()))
            .collect(),
        other => panic!(
            "{}: `settings` must be an object literal, found {:?}",
            file.path,
            other.map(text)
        ),
    };
    Settings {
        path: file.path,
        values,
    }
}

/// The attributes of the stack's `settings` type, each with whether it is `optional(…)`.
pub(crate) fn settings_type() -> BTreeMap<String, bool> {
    let variable = tf_files(STACK)
        .iter()
        .flat_map(|f| blocks(&f.body, "variable").cloned().collect::<Vec<_>>())
        .find(|b| label(b, 0) == "settings")
        .unwrap_or_else(|| panic!("{STACK}: no variable \"settings\""));
    let object = match attr(variable.body(), "type") {
        Some(Expression::FuncCall(call)) if call.name.name.as_str() == "object" => {
            match call.args.as_slice() {
                [Expression::Object(object)] => object,
                _ => panic!("{STACK}: variable \"settings\" must be object({{ … }})"),
            }
        }
        other => panic!(
            "{STACK}: variable \"settings\" must be object({{ … }}), found {:?}",
            other.map(text)
        ),
    };
    object
        .iter()
        .map(|(k, v)| {
            let optional =
                matches!(v, Expression::FuncCall(call) if call.name.name.as_str() == "optional");
            (key_name(k), optional)
        })
        .collect()
}

/// The names and values of a module's `environment_variables`, following `merge(…)` and
/// `local.…` references.
pub(crate) fn environment_variables(
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

/// Each `lambda_function` module of the stack (by label: `api`, `worker`) and the environment
/// variables it sets, as HCL text.
pub(crate) fn function_environments() -> BTreeMap<String, BTreeMap<String, String>> {
    let files = tf_files(STACK);
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
