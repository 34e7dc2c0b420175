//! Keys made over HTTP work behind API Gateway: the api function is told its REST API and may
//! change API Gateway keys only as the key use case does, on its own usage plans and on keys
//! tagged for its environment (`usecases::keys`, `gateway::api_gateway`).

use hcl::Block;

use super::support::{
    STACK, assert_none, attr, blocks, function_environments, label, str_attr, text, tf_files,
};

/// The statements of `data "aws_iam_policy_document" "api_gateway_keys"` in the stack.
fn statements() -> Vec<Block> {
    let files = tf_files(STACK);
    let document = files
        .iter()
        .flat_map(|f| blocks(&f.body, "data"))
        .find(|b| label(b, 0) == "aws_iam_policy_document" && label(b, 1) == "api_gateway_keys")
        .unwrap_or_else(|| panic!("{STACK}: no api_gateway_keys policy document"));
    blocks(document.body(), "statement").cloned().collect()
}

#[test]
fn the_api_knows_its_rest_api_and_only_the_api_does() {
    let functions = function_environments();
    assert_eq!(
        functions["api"]
            .get("IMAGEGEN_REST_API_ID")
            .map(String::as_str),
        Some("module.api_gateway.rest_api_id"),
        "{STACK}"
    );
    assert!(
        !functions["worker"].contains_key("IMAGEGEN_REST_API_ID"),
        "{STACK}"
    );
}

#[test]
fn the_api_changes_only_its_own_plans_and_keys_tagged_for_its_environment() {
    let files = tf_files(STACK);
    let attached = files
        .iter()
        .flat_map(|f| blocks(&f.body, "resource"))
        .find(|b| label(b, 0) == "aws_iam_role_policy" && label(b, 1) == "api_gateway_keys")
        .unwrap_or_else(|| panic!("{STACK}: api_gateway_keys is not attached"));
    assert_eq!(
        attr(attached.body(), "role").map(text).as_deref(),
        Some("module.api.role_name"),
        "{STACK}"
    );

    let mut problems = Vec::new();
    let statements = statements();
    assert!(
        statements.len() >= 3,
        "{STACK}: {} statements",
        statements.len()
    );
    for statement in &statements {
        let sid = str_attr(statement.body(), "sid").unwrap_or("?").to_owned();
        let actions = attr(statement.body(), "actions")
            .map(text)
            .unwrap_or_default();
        let resources = attr(statement.body(), "resources")
            .map(text)
            .unwrap_or_default();
        if resources.contains("\"*\"") || !resources.contains("arn:aws:apigateway:") {
            problems.push(format!("{STACK} {sid}: resources {resources}"));
        }
        let changes = ["POST", "PUT", "DELETE", "PATCH"]
            .iter()
            .any(|verb| actions.contains(&format!("apigateway:{verb}")));
        if !changes {
            continue;
        }
        // A change is allowed on the environment's own plans, or on keys carrying its tag.
        let own_plans = resources.contains("module.api_gateway.usage_plan_ids")
            && !resources.contains("/apikeys");
        let tagged = blocks(statement.body(), "condition").any(|c| {
            let variable = str_attr(c.body(), "variable").unwrap_or_default();
            (variable == "aws:RequestTag/imagegen:env"
                || variable == "aws:ResourceTag/imagegen:env")
                && str_attr(c.body(), "test") == Some("StringEquals")
                && attr(c.body(), "values")
                    .map(|v| text(v).split_whitespace().collect::<String>())
                    .as_deref()
                    == Some("[var.settings.environment]")
        });
        if !(own_plans || tagged) {
            problems.push(format!(
                "{STACK} {sid}: {actions} on {resources} without the environment's tag"
            ));
        }
    }
    assert_none(problems, "the api role's API Gateway permissions");
}
