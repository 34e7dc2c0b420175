//! Module conventions: every module has the standard files and generated docs, every root and
//! module pins Terraform and the AWS provider, every variable and output is described, and every
//! call of a local module passes only variables the module declares, and each it requires.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path};

use hcl::Expression;

use super::support::{
    all_tf_files, assert_none, attr, blocks, key_name, label, literal_str, modules, parse,
    project_root, str_attr, tf_files,
};

const MODULE_FILES: [&str; 5] = [
    "main.tf",
    "variables.tf",
    "outputs.tf",
    "versions.tf",
    "README.md",
];

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

/// `environments/staging` + `../../modules/storage` → `modules/storage`.
fn join_relative(dir: &Path, source: &str) -> String {
    let mut parts: Vec<String> = Vec::new();
    for component in dir.join(source).components() {
        match component {
            Component::ParentDir => {
                parts.pop();
            }
            Component::Normal(part) => parts.push(part.to_string_lossy().into_owned()),
            _ => {}
        }
    }
    parts.join("/")
}

#[test]
fn every_module_call_passes_only_the_modules_variables_and_all_it_requires() {
    const META_ARGUMENTS: [&str; 6] = [
        "source",
        "version",
        "count",
        "for_each",
        "providers",
        "depends_on",
    ];
    let mut problems = Vec::new();
    let mut calls = 0;
    for file in all_tf_files() {
        let dir = Path::new(&file.path).parent().unwrap();
        for call in blocks(&file.body, "module") {
            let Some(source) = str_attr(call.body(), "source").filter(|s| s.starts_with('.'))
            else {
                continue;
            };
            calls += 1;
            let at = format!("{}: module.{}", file.path, label(call, 0));
            let target = join_relative(dir, source);
            if !project_root().join(&target).is_dir() {
                problems.push(format!("{at}: source {source} is not a folder"));
                continue;
            }
            // Each variable of the called module, and whether it has a default.
            let variables: BTreeMap<String, bool> = tf_files(&target)
                .iter()
                .flat_map(|f| blocks(&f.body, "variable"))
                .map(|v| (label(v, 0).to_owned(), attr(v.body(), "default").is_some()))
                .collect();
            let given: BTreeSet<&str> = call
                .body()
                .attributes()
                .map(|a| a.key())
                .filter(|k| !META_ARGUMENTS.contains(k))
                .collect();
            for argument in &given {
                if !variables.contains_key(*argument) {
                    problems.push(format!("{at}: {target} has no variable \"{argument}\""));
                }
            }
            for (variable, has_default) in &variables {
                if !has_default && !given.contains(variable.as_str()) {
                    problems.push(format!(
                        "{at}: required variable \"{variable}\" of {target} is not given"
                    ));
                }
            }
        }
    }
    assert!(
        calls >= 10,
        "found only {calls} module calls: is the scan broken?"
    );
    assert_none(
        problems,
        "module calls that do not match the module's variables",
    );
}
