//! The generated section of a README: the inputs and outputs tables as terraform-docs lays
//! them out (see `docs.rs` for the rules), from the variables and outputs `docs.rs` read.

use std::fmt::Write as _;

use anyhow::Context;
use hcl::{Expression, Value};

use super::{Config, Output, Variable, evaluate};

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
                    render_default(expr).with_context(|| format!("variable `{}`", v.name))?,
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

fn render_default(expr: &Expression) -> crate::Result<String> {
    let value = evaluate(expr).context("the default must be a literal value")?;
    Ok(match &value {
        Value::Array(items) if !items.is_empty() => pre_cell(&json(&value, 0)),
        Value::Object(map) if !map.is_empty() => pre_cell(&json(&value, 0)),
        _ => code_cell(&hcl::format::to_string(&value)?),
    })
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
    use crate::docs::parse_into;

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
}
