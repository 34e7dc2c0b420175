//! The summary of a saved plan, from `terraform show -json <plan>`: how many resources are
//! added, changed and destroyed, with every destroy (and replacement) marked.

use std::collections::BTreeMap;

use anyhow::Context;
use serde::Deserialize;

/// Creates listed one by one before the rest are only counted (a first deploy creates ~100).
const LISTED_CREATES: usize = 10;

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Summary {
    pub creates: Vec<String>,
    pub updates: Vec<String>,
    /// Destroyed, then created again (or the other way round): counted as an add and a destroy.
    pub replaces: Vec<String>,
    pub deletes: Vec<String>,
}

#[derive(Deserialize)]
struct Plan {
    #[serde(default)]
    resource_changes: Vec<ResourceChange>,
}

/// The root variable `release` a saved plan was made with: `variables.release.value` of
/// `terraform show -json`, field by field (what it deploys).
pub fn release_variable(json: &str) -> crate::Result<BTreeMap<String, String>> {
    #[derive(Deserialize)]
    struct Shown {
        variables: BTreeMap<String, Variable>,
    }
    #[derive(Deserialize)]
    struct Variable {
        value: serde_json::Value,
    }
    let shown: Shown =
        serde_json::from_str(json).context("cannot read `terraform show -json` of the plan")?;
    let value =
        shown.variables.get("release").map(|v| &v.value).context(
            "the plan has no `release` variable: it was not made by `cargo xtask deploy`",
        )?;
    let object = value
        .as_object()
        .context("the plan's `release` variable is not an object")?;
    Ok(object
        .iter()
        .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_owned())))
        .collect())
}

#[derive(Deserialize)]
struct ResourceChange {
    address: String,
    change: Change,
}

#[derive(Deserialize)]
struct Change {
    actions: Vec<String>,
}

impl Summary {
    /// Parses Terraform's JSON plan representation (`format_version` 1.x).
    pub fn parse(json: &str) -> crate::Result<Self> {
        let plan: Plan =
            serde_json::from_str(json).context("cannot read `terraform show -json` of the plan")?;
        let mut summary = Summary::default();
        for rc in plan.resource_changes {
            let actions: Vec<&str> = rc.change.actions.iter().map(String::as_str).collect();
            let list = match actions.as_slice() {
                ["create"] => &mut summary.creates,
                ["update"] => &mut summary.updates,
                ["delete"] => &mut summary.deletes,
                ["delete", "create"] | ["create", "delete"] => &mut summary.replaces,
                // no-op, read (data sources), forget (removed blocks): nothing is changed.
                _ => continue,
            };
            list.push(rc.address);
        }
        Ok(summary)
    }

    pub fn to_add(&self) -> usize {
        self.creates.len() + self.replaces.len()
    }

    pub fn to_change(&self) -> usize {
        self.updates.len()
    }

    pub fn to_destroy(&self) -> usize {
        self.deletes.len() + self.replaces.len()
    }

    pub fn is_empty(&self) -> bool {
        self.to_add() + self.to_change() + self.to_destroy() == 0
    }

    /// The summary as printed; destroys and replacements in red when `color`, and always
    /// marked in capitals so they stand out in a CI log too.
    pub fn lines(&self, color: bool) -> Vec<String> {
        if self.is_empty() {
            return vec!["No changes: the infrastructure matches the configuration.".into()];
        }
        let red = |s: String| {
            if color {
                format!("\x1b[1;31m{s}\x1b[0m")
            } else {
                s
            }
        };
        let mut lines = vec![format!(
            "Plan: {} to add, {} to change, {} to destroy.",
            self.to_add(),
            self.to_change(),
            self.to_destroy()
        )];
        for address in &self.deletes {
            lines.push(red(format!("  -   {address}  DESTROY")));
        }
        for address in &self.replaces {
            lines.push(red(format!(
                "  -/+ {address}  REPLACE (destroyed, then created)"
            )));
        }
        for address in &self.updates {
            lines.push(format!("  ~   {address}"));
        }
        for address in self.creates.iter().take(LISTED_CREATES) {
            lines.push(format!("  +   {address}"));
        }
        if self.creates.len() > LISTED_CREATES {
            lines.push(format!(
                "  +   ... and {} more to create",
                self.creates.len() - LISTED_CREATES
            ));
        }
        if self.to_destroy() > 0 {
            lines.push(red(format!(
                "!! this plan destroys {} resource{}: read the DESTROY/REPLACE lines above",
                self.to_destroy(),
                if self.to_destroy() == 1 { "" } else { "s" }
            )));
        }
        lines
    }

    /// The summary in Markdown, for a GitHub job summary and the file kept with the plan:
    /// a heading, the counts, `notes` (the release, the plan's SHA-256), then every change,
    /// destroys and replacements first and marked.
    pub fn markdown(&self, heading: &str, notes: &[String]) -> String {
        let mut md = format!("### {heading}\n\n");
        if self.is_empty() {
            md.push_str("**No changes**: the infrastructure matches the configuration.\n\n");
        } else {
            md.push_str(&format!(
                "**Plan: {} to add, {} to change, {} to destroy.**\n\n",
                self.to_add(),
                self.to_change(),
                self.to_destroy()
            ));
        }
        for note in notes {
            md.push_str(&format!("{note}\n\n"));
        }
        if self.is_empty() {
            return md;
        }
        if self.to_destroy() > 0 {
            md.push_str(&format!(
                "> [!WARNING]\n> This plan destroys {} resource{}: read the DESTROY and REPLACE rows.\n\n",
                self.to_destroy(),
                if self.to_destroy() == 1 { "" } else { "s" }
            ));
        }
        md.push_str("| change | resource |\n|---|---|\n");
        let rows = [
            ("**DESTROY**", &self.deletes),
            ("**REPLACE**", &self.replaces),
            ("update", &self.updates),
            ("create", &self.creates),
        ];
        for (change, addresses) in rows {
            for address in addresses {
                md.push_str(&format!("| {change} | `{address}` |\n"));
            }
        }
        md
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PLAN: &str = r#"{
      "format_version": "1.2",
      "resource_changes": [
        {"address": "module.api.aws_lambda_function.this", "change": {"actions": ["update"]}},
        {"address": "module.api.aws_lambda_alias.live", "change": {"actions": ["update"]}},
        {"address": "module.queue.aws_sqs_queue.dlq", "change": {"actions": ["no-op"]}},
        {"address": "data.aws_caller_identity.current", "change": {"actions": ["read"]}},
        {"address": "module.api_gateway.aws_api_gateway_deployment.this", "change": {"actions": ["create", "delete"]}},
        {"address": "module.old.aws_sns_topic.legacy", "change": {"actions": ["delete"]}},
        {"address": "module.cost.aws_budgets_budget.this", "change": {"actions": ["create"]}}
      ]
    }"#;

    #[test]
    fn counts_replacements_as_an_add_and_a_destroy_like_terraform() {
        let summary = Summary::parse(PLAN).unwrap();
        assert_eq!(
            (summary.to_add(), summary.to_change(), summary.to_destroy()),
            (2, 2, 2)
        );
        let lines = summary.lines(false);
        assert_eq!(lines[0], "Plan: 2 to add, 2 to change, 2 to destroy.");
        assert!(lines[1].contains("module.old.aws_sns_topic.legacy  DESTROY"));
        assert!(lines[2].contains("REPLACE"));
        assert!(
            lines
                .last()
                .unwrap()
                .starts_with("!! this plan destroys 2 resources")
        );
        assert!(
            !lines
                .iter()
                .any(|l| l.contains("dlq") || l.contains("data."))
        );
    }

    #[test]
    fn destroys_are_red_on_a_terminal() {
        let lines = Summary::parse(PLAN).unwrap().lines(true);
        assert!(lines[1].starts_with("\x1b[1;31m"));
        assert!(!lines[0].contains('\x1b'));
    }

    #[test]
    fn an_empty_plan_says_no_changes_and_long_create_lists_are_cut() {
        let empty = Summary::parse(r#"{"format_version": "1.2"}"#).unwrap();
        assert!(empty.is_empty());
        assert!(empty.lines(false)[0].starts_with("No changes"));

        let creates: Vec<String> = (0..25)
            .map(|i| format!(r#"{{"address": "r{i}", "change": {{"actions": ["create"]}}}}"#))
            .collect();
        let json = format!(r#"{{"resource_changes": [{}]}}"#, creates.join(","));
        let lines = Summary::parse(&json).unwrap().lines(false);
        assert_eq!(lines.len(), 1 + LISTED_CREATES + 1);
        assert!(lines.last().unwrap().contains("15 more to create"));
    }

    #[test]
    fn the_markdown_summary_lists_every_change_with_destroys_first_and_marked() {
        let md = Summary::parse(PLAN)
            .unwrap()
            .markdown("Plan for prod", &["Release `abc`".to_owned()]);
        assert!(
            md.starts_with("### Plan for prod\n\n**Plan: 2 to add, 2 to change, 2 to destroy.**")
        );
        assert!(md.contains("Release `abc`"));
        assert!(md.contains("This plan destroys 2 resources"));
        let rows: Vec<&str> = md.lines().filter(|l| l.starts_with("| ")).collect();
        assert_eq!(rows[0], "| change | resource |");
        assert_eq!(
            rows[1],
            "| **DESTROY** | `module.old.aws_sns_topic.legacy` |"
        );
        assert!(rows[2].starts_with("| **REPLACE** |"));
        assert_eq!(rows.len(), 1 + 5, "{md}");
        let empty = Summary::default().markdown("Plan for staging", &[]);
        assert!(empty.contains("**No changes**") && !empty.contains("| change"));
    }

    #[test]
    fn the_release_a_plan_deploys_is_read_from_its_variables() {
        let json = r#"{"variables": {"settings": {"value": {"environment": "prod"}},
            "release": {"value": {"api_artifact_key": "lambda/a.zip", "lambda_architecture": "arm64"}}}}"#;
        let release = release_variable(json).unwrap();
        assert_eq!(release["api_artifact_key"], "lambda/a.zip");
        assert_eq!(release["lambda_architecture"], "arm64");
        let error = release_variable(r#"{"variables": {}}"#)
            .unwrap_err()
            .to_string();
        assert!(error.contains("no `release` variable"), "{error}");
    }

    #[test]
    fn a_plan_that_is_not_json_is_a_clear_error() {
        let error = Summary::parse("Error: no plan").unwrap_err().to_string();
        assert!(error.contains("terraform show -json"), "{error}");
    }
}
