//! IAM: no policy allows a wildcard action, in any of the forms a policy is written
//! (`aws_iam_policy_document`, statement objects in locals and module arguments, `jsonencode`,
//! JSON strings and heredocs). Only a Deny may use wildcards.

use hcl::{Block, Body, Expression};

use super::support::{
    TfFile, address, all_tf_files, assert_none, attr, blocks, key_name, label, literal_str,
    str_attr,
};

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
