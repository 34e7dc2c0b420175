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

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

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
            .map_err(|e| format!("cannot read {}: {e}", readme.display()))?;
        let section = render_section(&read_config(dir)?)?;
        let updated = splice(&current, &section).map_err(|e| format!("{shown}: {e}"))?;
        if updated == current {
            continue;
        }
        if check {
            stale.push(shown.to_string());
        } else {
            std::fs::write(&readme, updated)
                .map_err(|e| format!("cannot write {}: {e}", readme.display()))?;
            println!("updated {shown}");
        }
    }
    if !stale.is_empty() {
        return Err(format!(
            "{} of {total} Terraform READMEs are out of date:\n  {}\nrun `cargo xtask docs` and commit the result",
            stale.len(),
            stale.join("\n  ")
        )
        .into());
    }
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
                return Err(format!(
                    "{} has no README.md: add one with `{BEGIN}` and `{END}` lines, then run `cargo xtask docs`",
                    dir.display()
                )
                .into());
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
    for entry in
        std::fs::read_dir(dir).map_err(|e| format!("cannot list {}: {e}", dir.display()))?
    {
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
        .map_err(|e| format!("cannot list {}: {e}", dir.display()))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "tf"))
        .collect();
    files.sort();
    let mut config = Config::default();
    for file in files {
        let text = std::fs::read_to_string(&file)
            .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
        parse_into(&text, &mut config).map_err(|e| format!("{}: {e}", file.display()))?;
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
            Some(expr) => literal_string(&expr).ok_or_else(|| {
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
fn evaluate(expr: &Expression) -> Option<Value> {
    use hcl::eval::Evaluate;
    expr.evaluate(&hcl::eval::Context::new()).ok()
}

/// The generated section: what goes between the markers.
pub fn render_section(config: &Config) -> crate::Result<String> {
    let mut out = String::from("## Inputs\n\n");
    let mut variables: Vec<&Variable> = config.variables.iter().collect();
    variables.sort_by(|a, b| a.name.cmp(&b.name));
    if variables.is_empty() {
        out.push_str("No inputs.\n");
    } else {
        out.push_str("| Name | Description | Type | Default | Required |\n");
        out.push_str("|------|-------------|------|---------|:--------:|\n");
        for v in variables {
            let type_ = match &v.type_ {
                Some(expr) => code_cell(&format_hcl(expr, 0)?),
                None => code_cell("any"),
            };
            let (default, required) = match &v.default {
                Some(expr) => (
                    render_default(expr).map_err(|e| format!("variable `{}`: {e}", v.name))?,
                    "no",
                ),
                None => ("n/a".to_owned(), "yes"),
            };
            writeln!(
                out,
                "| {} | {} | {type_} | {default} | {required} |",
                v.name,
                description_cell(&v.description)
            )?;
        }
    }
    out.push_str("\n## Outputs\n\n");
    let mut outputs: Vec<&Output> = config.outputs.iter().collect();
    outputs.sort_by(|a, b| a.name.cmp(&b.name));
    if outputs.is_empty() {
        out.push_str("No outputs.\n");
    } else {
        out.push_str("| Name | Description |\n");
        out.push_str("|------|-------------|\n");
        for o in outputs {
            writeln!(out, "| {} | {} |", o.name, description_cell(&o.description))?;
        }
    }
    Ok(out)
}

/// Replaces what lies between the markers with `section`.
pub fn splice(readme: &str, section: &str) -> Result<String, String> {
    let missing =
        || format!("no `{BEGIN}` … `{END}` section: add those two lines where the tables go");
    let begin = readme.find(BEGIN).ok_or_else(missing)?;
    let after_begin = begin + BEGIN.len();
    let end = after_begin + readme[after_begin..].find(END).ok_or_else(missing)?;
    Ok(format!(
        "{}\n{section}{}",
        &readme[..after_begin],
        &readme[end..]
    ))
}

fn render_default(expr: &Expression) -> Result<String, String> {
    let value = evaluate(expr).ok_or("the default must be a literal value")?;
    match &value {
        Value::Array(items) if !items.is_empty() => Ok(pre_cell(&json(&value, 0))),
        Value::Object(map) if !map.is_empty() => Ok(pre_cell(&json(&value, 0))),
        _ => hcl::format::to_string(&value)
            .map(|text| code_cell(&text))
            .map_err(|e| e.to_string()),
    }
}

/// HCL as `terraform fmt` lays it out: hcl-rs formats the leaves; objects are one attribute
/// per line with `=` aligned across consecutive one-line attributes (a multi-line value
/// breaks the run, as in `terraform fmt`); function calls and short lists stay on one line.
pub fn format_hcl(expr: &Expression, indent: usize) -> crate::Result<String> {
    Ok(match expr {
        Expression::Object(object) if !object.is_empty() => {
            let pad = "  ".repeat(indent + 1);
            let mut entries = Vec::with_capacity(object.len());
            for (key, value) in object.iter() {
                entries.push((hcl::format::to_string(key)?, format_hcl(value, indent + 1)?));
            }
            let mut out = String::from("{\n");
            let mut rest = entries.as_slice();
            while !rest.is_empty() {
                let run = rest.iter().take_while(|(_, v)| !v.contains('\n')).count();
                let width = rest[..run]
                    .iter()
                    .map(|(k, _)| k.chars().count())
                    .max()
                    .unwrap_or(0);
                for (key, value) in &rest[..run] {
                    writeln!(out, "{pad}{key:<width$} = {value}")?;
                }
                if let Some((key, value)) = rest.get(run) {
                    writeln!(out, "{pad}{key} = {value}")?;
                }
                rest = &rest[(run + 1).min(rest.len())..];
            }
            out.push_str(&"  ".repeat(indent));
            out.push('}');
            out
        }
        Expression::Array(items) if !items.is_empty() => {
            let items = items
                .iter()
                .map(|item| format_hcl(item, indent + 1))
                .collect::<crate::Result<Vec<_>>>()?;
            if items.iter().any(|item| item.contains('\n')) {
                let pad = "  ".repeat(indent + 1);
                let mut out = String::from("[\n");
                for item in items {
                    writeln!(out, "{pad}{item},")?;
                }
                out.push_str(&"  ".repeat(indent));
                out.push(']');
                out
            } else {
                format!("[{}]", items.join(", "))
            }
        }
        Expression::FuncCall(call) => {
            let args = call
                .args
                .iter()
                .map(|arg| format_hcl(arg, indent))
                .collect::<crate::Result<Vec<_>>>()?;
            let expand = if call.expand_final { "..." } else { "" };
            format!(
                "{}({}{expand})",
                hcl::format::to_string(&call.name)?,
                args.join(", ")
            )
        }
        Expression::Parenthesis(inner) => format!("({})", format_hcl(inner, indent)?),
        other => hcl::format::to_string(other)?,
    })
}

/// Indented JSON with sorted keys: how terraform-docs shows a collection default.
fn json(value: &Value, indent: usize) -> String {
    let pad = "  ".repeat(indent + 1);
    let close = "  ".repeat(indent);
    match value {
        Value::Null => "null".to_owned(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => json_string(s),
        Value::Array(items) if items.is_empty() => "[]".to_owned(),
        Value::Array(items) => {
            let items: Vec<String> = items
                .iter()
                .map(|item| format!("{pad}{}", json(item, indent + 1)))
                .collect();
            format!("[\n{}\n{close}]", items.join(",\n"))
        }
        Value::Object(map) if map.is_empty() => "{}".to_owned(),
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            let entries: Vec<String> = entries
                .into_iter()
                .map(|(k, v)| format!("{pad}{}: {}", json_string(k), json(v, indent + 1)))
                .collect();
            format!("{{\n{}\n{close}}}", entries.join(",\n"))
        }
    }
}

fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A description as one table cell: line breaks become `<br/>`.
fn description_cell(text: &str) -> String {
    let text = text.trim();
    if text.is_empty() {
        return "n/a".to_owned();
    }
    escape_pipes(
        &text
            .lines()
            .map(str::trim_end)
            .collect::<Vec<_>>()
            .join("<br/>"),
    )
}

/// One-line text as inline code; multi-line text as `<pre>` with `<br/>` line breaks.
fn code_cell(text: &str) -> String {
    if text.contains('\n') {
        return pre_cell(text);
    }
    // A code span is fenced by a backtick run longer than any inside it (CommonMark).
    let longest = text.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    if longest == 0 {
        return escape_pipes(&format!("`{text}`"));
    }
    let fence = "`".repeat(longest + 1);
    escape_pipes(&format!("{fence} {text} {fence}"))
}

fn pre_cell(text: &str) -> String {
    escape_pipes(&format!(
        "<pre>{}</pre>",
        text.lines().collect::<Vec<_>>().join("<br/>")
    ))
}

/// A `|` would end the table cell, even inside code (GitHub flavoured markdown).
fn escape_pipes(text: &str) -> String {
    text.replace('|', "\\|")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn section(hcl: &str) -> String {
        let mut config = Config::default();
        parse_into(hcl, &mut config).unwrap();
        render_section(&config).unwrap()
    }

    #[test]
    fn renders_inputs_and_outputs_sorted_with_required_and_defaults() {
        let got = section(
            r#"
variable "zeta" {
  description = "Last, required."
  type        = string
}

variable "alpha" {
  description = "First | with a pipe."
  type        = number
  default     = 3
}

variable "kms_key_arn" {
  description = "May be null."
  type        = string
  default     = null
}

variable "tags" {
  description = "Tags."
  type        = map(string)
  default     = {}
}

output "url" {
  description = "The URL."
  value       = "https://example.com"
}

output "id" {
  description = "The ID."
  value       = 1
}
"#,
        );
        let want = "\
## Inputs

| Name | Description | Type | Default | Required |
|------|-------------|------|---------|:--------:|
| alpha | First \\| with a pipe. | `number` | `3` | no |
| kms_key_arn | May be null. | `string` | `null` | no |
| tags | Tags. | `map(string)` | `{}` | no |
| zeta | Last, required. | `string` | n/a | yes |

## Outputs

| Name | Description |
|------|-------------|
| id | The ID. |
| url | The URL. |
";
        assert_eq!(got, want);
    }

    #[test]
    fn multi_line_types_are_aligned_like_terraform_fmt() {
        let got = section(
            r#"
variable "statements" {
  description = "Statements."
  type = list(object({
    sid = string
    actions = list(string)
    conditions = optional(list(object({
      test = string
      values = list(string)
    })), [])
    effect = optional(string, "Allow")
  }))
  default = []
}
"#,
        );
        let row = got.lines().find(|l| l.starts_with("| statements")).unwrap();
        assert_eq!(
            row,
            "| statements | Statements. | <pre>list(object({<br/>  sid     = string<br/>  actions = list(string)<br/>  conditions = optional(list(object({<br/>    test   = string<br/>    values = list(string)<br/>  })), [])<br/>  effect = optional(string, \"Allow\")<br/>}))</pre> | `[]` | no |"
        );
    }

    #[test]
    fn collection_defaults_are_json_with_sorted_keys_like_terraform_docs() {
        let got = section(
            r#"
variable "plans" {
  description = "Plans."
  type        = map(object({ rate = number, period = string }))
  default = {
    standard = { rate = 10, period = "DAY" }
    basic    = { rate = 1, period = "DAY" }
  }
}

variable "origins" {
  description = "Origins."
  type        = list(string)
  default     = ["https://a.example", "https://b.example"]
}
"#,
        );
        let lines: Vec<&str> = got.lines().filter(|l| l.starts_with("| ")).collect();
        assert_eq!(
            lines[1],
            "| origins | Origins. | `list(string)` | <pre>[<br/>  \"https://a.example\",<br/>  \"https://b.example\"<br/>]</pre> | no |"
        );
        assert_eq!(
            lines[2],
            "| plans | Plans. | <pre>map(object({<br/>  rate   = number<br/>  period = string<br/>}))</pre> | <pre>{<br/>  \"basic\": {<br/>    \"period\": \"DAY\",<br/>    \"rate\": 1<br/>  },<br/>  \"standard\": {<br/>    \"period\": \"DAY\",<br/>    \"rate\": 10<br/>  }<br/>}</pre> | no |"
        );
    }

    #[test]
    fn strings_with_backticks_get_a_longer_fence_and_descriptions_keep_line_breaks() {
        let got = section(
            r#"
variable "note" {
  description = <<-EOT
    Two lines,
    `code` kept.
  EOT
  type    = string
  default = "run `cargo xtask docs`"
}

variable "untyped" {
  description = ""
}
"#,
        );
        let lines: Vec<&str> = got.lines().filter(|l| l.starts_with("| ")).collect();
        assert_eq!(
            lines[1],
            "| note | Two lines,<br/>`code` kept. | `string` | `` \"run `cargo xtask docs`\" `` | no |"
        );
        assert_eq!(lines[2], "| untyped | n/a | `any` | n/a | yes |");
    }

    #[test]
    fn no_variables_or_outputs_say_so() {
        assert_eq!(
            section(""),
            "## Inputs\n\nNo inputs.\n\n## Outputs\n\nNo outputs.\n"
        );
    }

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
