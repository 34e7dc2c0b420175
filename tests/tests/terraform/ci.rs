//! CI: the terraform-validate matrix of .github/workflows/ci.yml lists every module (or one of
//! its examples, or a root that calls it) and every environment, and nothing that does not
//! exist.

use std::path::{Component, Path};

use super::support::{assert_none, blocks, modules, project_root, str_attr, tf_files};

/// The local modules a Terraform folder calls, as paths from the repository root.
fn called_modules(dir: &str) -> Vec<String> {
    tf_files(dir)
        .iter()
        .flat_map(|f| blocks(&f.body, "module").cloned().collect::<Vec<_>>())
        .filter_map(|call| str_attr(call.body(), "source").map(str::to_owned))
        .filter(|source| source.starts_with('.'))
        .map(|source| {
            let mut parts: Vec<String> = Vec::new();
            for component in Path::new(dir).join(source).components() {
                match component {
                    Component::ParentDir => {
                        parts.pop();
                    }
                    Component::Normal(part) => parts.push(part.to_string_lossy().into_owned()),
                    _ => {}
                }
            }
            parts.join("/")
        })
        .collect()
}

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
    // `terraform validate` of a root checks the modules it calls too: a module that declares
    // configuration_aliases cannot be validated alone (hashicorp/terraform#28490).
    let called: Vec<String> = targets
        .iter()
        .filter(|t| project_root().join(t).is_dir())
        .flat_map(|t| called_modules(t))
        .collect();
    for module in modules() {
        let dir = format!("modules/{module}");
        let example = format!("{dir}/examples/");
        if !targets.iter().any(|t| *t == dir || t.starts_with(&example)) && !called.contains(&dir) {
            problems.push(format!(
                ".github/workflows/ci.yml: the terraform-validate matrix does not list {dir} (or one of its examples, or a root that calls it)"
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
