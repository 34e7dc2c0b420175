//! `cargo xtask docs [--check]`: the inputs and outputs tables of the Terraform READMEs.
//!
//! Each `modules/<m>/README.md` (and `environments/<e>/README.md`, where one exists) holds a
//! generated section between `<!-- BEGIN_TF_DOCS -->` and `<!-- END_TF_DOCS -->`, laid out
//! as terraform-docs' markdown tables. It is rebuilt from the `variable` and `output` blocks
//! of the directory's `*.tf` files, parsed with hcl-rs:
//!
//! - rows are sorted by name; a variable without `default` is required (`n/a`, `yes`);
//! - types are HCL as `terraform fmt` writes it (hcl-rs formats each expression; `=` is
//!   aligned across consecutive one-line object attributes); a multi-line type becomes
//!   `<pre>…<br/>…</pre>`;
//! - defaults are evaluated: scalars and empty collections are shown as HCL (`"live"`,
//!   `null`, `{}`), other collections as indented JSON with sorted keys, as terraform-docs
//!   shows them.
//!
//! `--check` changes nothing and fails when a README is stale, naming the fix.

mod tables;

use std::path::{Path, PathBuf};

use anyhow::{Context, bail, ensure};
use hcl::{Expression, Value};
use xshell::Shell;

pub const BEGIN: &str = "<!-- BEGIN_TF_DOCS -->";
pub const END: &str = "<!-- END_TF_DOCS -->";

pub fn run(sh: &Shell, check: bool) -> crate::Result<()> {
    let root = sh.current_dir();
    let mut stale = Vec::new();
    let mut total = 0;
    for readme in readmes(&root)? {
        total += 1;
        let dir = readme.parent().unwrap_or(&root);
        let shown = readme.strip_prefix(&root).unwrap_or(&readme).display();
        let current = std::fs::read_to_string(&readme)
            .with_context(|| format!("cannot read {}", readme.display()))?;
        let section = tables::render_section(&read_config(dir)?)?;
        let updated = splice(&current, &section).with_context(|| shown.to_string())?;
        if updated == current {
            continue;
        }
        if check {
            stale.push(shown.to_string());
        } else {
            std::fs::write(&readme, updated)
                .with_context(|| format!("cannot write {}", readme.display()))?;
            println!("updated {shown}");
        }
    }
    ensure!(
        stale.is_empty(),
        "{} of {total} Terraform READMEs are out of date:\n  {}\nrun `cargo xtask docs` and commit the result",
        stale.len(),
        stale.join("\n  ")
    );
    println!("docs: {total} Terraform READMEs are current");
    Ok(())
}

/// Every README with a generated section: each module must have one; environments may.
fn readmes(root: &Path) -> crate::Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    for (parent, required) in [("modules", true), ("environments", false)] {
        for dir in subdirectories(&root.join(parent))? {
            let readme = dir.join("README.md");
            if readme.is_file() {
                found.push(readme);
            } else if required {
                bail!(
                    "{} has no README.md: add one with `{BEGIN}` and `{END}` lines, then run `cargo xtask docs`",
                    dir.display()
                );
            }
        }
    }
    Ok(found)
}

fn subdirectories(dir: &Path) -> crate::Result<Vec<PathBuf>> {
    if !dir.is_dir() {
        return Ok(Vec::new());
    }
    let mut dirs = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))? {
        let path = entry?.path();
        if path.is_dir() {
            dirs.push(path);
        }
    }
    dirs.sort();
    Ok(dirs)
}

/// The documented interface of one Terraform directory.
#[derive(Debug, Default)]
pub struct Config {
    pub variables: Vec<Variable>,
    pub outputs: Vec<Output>,
}

#[derive(Debug)]
pub struct Variable {
    pub name: String,
    pub description: String,
    pub type_: Option<Expression>,
    pub default: Option<Expression>,
}

#[derive(Debug)]
pub struct Output {
    pub name: String,
    pub description: String,
}

/// Variables and outputs declared in the directory's `*.tf` files (not its subdirectories).
fn read_config(dir: &Path) -> crate::Result<Config> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot list {}", dir.display()))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "tf"))
        .collect();
    files.sort();
    let mut config = Config::default();
    for file in files {
        let text = std::fs::read_to_string(&file)
            .with_context(|| format!("cannot read {}", file.display()))?;
        parse_into(&text, &mut config).with_context(|| file.display().to_string())?;
    }
    Ok(config)
}

/// Adds the `variable` and `output` blocks of one file to `config`.
pub fn parse_into(text: &str, config: &mut Config) -> crate::Result<()> {
    let body = hcl::parse(text)?;
    for block in body.blocks() {
        let kind = block.identifier();
        if kind != "variable" && kind != "output" {
            continue;
        }
        let Some(name) = block.labels().first().map(|l| l.as_str().to_owned()) else {
            continue;
        };
        let attribute = |key: &str| {
            block
                .body()
                .attributes()
                .find(|a| a.key() == key)
                .map(|a| a.expr().clone())
        };
        let description = match attribute("description") {
            Some(expr) => literal_string(&expr).with_context(|| {
                format!("the description of {kind} `{name}` must be a literal string")
            })?,
            None => String::new(),
        };
        match kind {
            "variable" => config.variables.push(Variable {
                name,
                description,
                type_: attribute("type"),
                default: attribute("default"),
            }),
            "output" => config.outputs.push(Output { name, description }),
            _ => {}
        }
    }
    Ok(())
}

fn literal_string(expr: &Expression) -> Option<String> {
    match evaluate(expr)? {
        Value::String(s) => Some(s),
        _ => None,
    }
}

/// The value of an expression that references nothing (a variable default, a description).
pub fn evaluate(expr: &Expression) -> Option<Value> {
    use hcl::eval::Evaluate;
    expr.evaluate(&hcl::eval::Context::new()).ok()
}

/// Replaces what lies between the markers with `section`.
pub fn splice(readme: &str, section: &str) -> crate::Result<String> {
    let missing =
        || format!("no `{BEGIN}` … `{END}` section: add those two lines where the tables go");
    let begin = readme.find(BEGIN).with_context(missing)?;
    let after_begin = begin + BEGIN.len();
    let end = after_begin + readme[after_begin..].find(END).with_context(missing)?;
    Ok(format!(
        "{}\n{section}{}",
        &readme[..after_begin],
        &readme[end..]
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splice_replaces_only_the_generated_section() {
        let readme = "# m\n\nintro\n\n<!-- BEGIN_TF_DOCS -->\nold\n<!-- END_TF_DOCS -->\n\nafter\n";
        assert_eq!(
            splice(readme, "new\n").unwrap(),
            "# m\n\nintro\n\n<!-- BEGIN_TF_DOCS -->\nnew\n<!-- END_TF_DOCS -->\n\nafter\n"
        );
        assert!(splice("# no markers\n", "new\n").is_err());
    }
}
