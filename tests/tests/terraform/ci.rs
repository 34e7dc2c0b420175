//! CI: the terraform-validate matrix of .github/workflows/ci.yml lists every module (or one of
//! its examples) and every environment, and nothing that does not exist.

use super::support::{assert_none, modules, project_root};

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
