//! API Gateway's account settings (`aws_api_gateway_account`: the CloudWatch Logs role every
//! REST API of an account and region logs through) are a singleton. environments/bootstrap sets
//! them, once per account, with the role's trust as AWS documents it; the api_gateway module,
//! called once per environment, has no role or switch of its own. Its access log names the
//! calling key and the gateway's own errors, and a custom domain is the API's only address.

use super::support::{
    ENVIRONMENTS, STACK, address, all_tf_files, assert_none, attr, blocks, label, settings_type,
    text, tf_files,
};

const MODULE: &str = "modules/api_gateway";

#[test]
fn the_account_logging_role_is_set_once_in_the_bootstrap() {
    let mut problems = Vec::new();

    // Exactly one aws_api_gateway_account in all the Terraform, in the bootstrap.
    let mut accounts = Vec::new();
    for file in all_tf_files() {
        for block in blocks(&file.body, "resource") {
            if label(block, 0) == "aws_api_gateway_account" {
                accounts.push((file.path.clone(), block.clone()));
            }
        }
    }
    match accounts.as_slice() {
        [(path, account)] if path.starts_with("environments/bootstrap/") => {
            let role = attr(account.body(), "cloudwatch_role_arn").map(text);
            if role.as_deref() != Some("aws_iam_role.apigateway_cloudwatch[0].arn") {
                problems.push(format!(
                    "{path}: {} takes its role from {role:?}, not the bootstrap's aws_iam_role.apigateway_cloudwatch",
                    address(account)
                ));
            }
        }
        found => problems.push(format!(
            "expected one aws_api_gateway_account, in environments/bootstrap; found {:?}",
            found.iter().map(|(path, _)| path).collect::<Vec<_>>()
        )),
    }

    // The module owns no IAM at all, and no variable switches an account-level role on.
    for file in tf_files(MODULE) {
        for block in blocks(&file.body, "resource") {
            let kind = label(block, 0);
            if kind == "aws_api_gateway_account" || kind.starts_with("aws_iam_") {
                problems.push(format!(
                    "{}: {} belongs to environments/bootstrap (one per account and region)",
                    file.path,
                    address(block)
                ));
            }
        }
        for variable in blocks(&file.body, "variable") {
            let name = label(variable, 0);
            if name.contains("cloudwatch_role") || name.contains("account") {
                problems.push(format!(
                    "{}: variable \"{name}\": the account's logging role is not this module's",
                    file.path
                ));
            }
        }
    }

    // Nor do the environments carry a switch for it: not a variable of their roots or the
    // stack, nor a setting.
    for dir in ENVIRONMENTS
        .map(|env| format!("environments/{env}"))
        .into_iter()
        .chain([STACK.to_owned()])
    {
        for file in tf_files(&dir) {
            for variable in blocks(&file.body, "variable") {
                if label(variable, 0).contains("apigateway_account") {
                    problems.push(format!(
                        "{}: variable \"{}\": environments/bootstrap sets the account's API Gateway role",
                        file.path,
                        label(variable, 0)
                    ));
                }
            }
        }
    }
    for setting in settings_type().keys() {
        if setting.contains("apigateway_account") {
            problems.push(format!(
                "{STACK}: settings.{setting}: environments/bootstrap sets the account's API Gateway role"
            ));
        }
    }
    assert_none(problems, "the API Gateway account logging role");
}

#[test]
fn the_logging_role_trusts_api_gateway_as_aws_documents_it() {
    let trust = tf_files("environments/bootstrap")
        .iter()
        .flat_map(|f| blocks(&f.body, "data").cloned().collect::<Vec<_>>())
        .find(|b| label(b, 0) == "aws_iam_policy_document" && label(b, 1) == "apigateway_assume")
        .expect("data.aws_iam_policy_document.apigateway_assume in environments/bootstrap");
    let statements: Vec<_> = blocks(trust.body(), "statement").collect();
    assert_eq!(statements.len(), 1, "one statement");
    let statement = statements[0].body();
    let principals: Vec<String> = blocks(statement, "principals")
        .filter_map(|p| attr(p.body(), "identifiers").map(text))
        .map(|list| list.split_whitespace().collect())
        .collect();
    assert_eq!(principals, [r#"["apigateway.amazonaws.com"]"#]);
    // AWS's documented trust for this role has no condition; API Gateway sends no source
    // account when it assumes it.
    assert_eq!(blocks(statement, "condition").count(), 0, "no condition");
}

#[test]
fn access_logs_name_the_calling_key_and_the_gateways_own_error() {
    let main = tf_files(MODULE)
        .into_iter()
        .find(|f| f.path.ends_with("main.tf"))
        .expect("modules/api_gateway/main.tf");
    let locals = blocks(&main.body, "locals")
        .find_map(|b| attr(b.body(), "access_log_format").map(text))
        .expect("local.access_log_format");
    let mut problems = Vec::new();
    for field in [
        "$context.requestId",
        "$context.identity.apiKeyId",
        "$context.error.message",
        "$context.error.responseType",
        "$context.status",
        "$context.integrationLatency",
    ] {
        if !locals.contains(field) {
            problems.push(format!("{}: access_log_format has no {field}", main.path));
        }
    }
    let stage_uses_it = blocks(&main.body, "resource")
        .filter(|b| label(b, 0) == "aws_api_gateway_stage")
        .flat_map(|b| {
            blocks(b.body(), "access_log_settings")
                .cloned()
                .collect::<Vec<_>>()
        })
        .any(|s| attr(s.body(), "format").map(text).as_deref() == Some("local.access_log_format"));
    if !stage_uses_it {
        problems.push(format!(
            "{}: the stage does not log with local.access_log_format",
            main.path
        ));
    }
    assert_none(problems, "API Gateway access logs");
}

#[test]
fn a_custom_domain_turns_the_execute_api_endpoint_off() {
    let mut problems = Vec::new();
    let rest_api_switch = tf_files(MODULE)
        .iter()
        .flat_map(|f| blocks(&f.body, "resource").cloned().collect::<Vec<_>>())
        .filter(|b| label(b, 0) == "aws_api_gateway_rest_api")
        .any(|b| {
            attr(b.body(), "disable_execute_api_endpoint")
                .map(text)
                .as_deref()
                == Some("var.disable_execute_api_endpoint")
        });
    if !rest_api_switch {
        problems.push(format!(
            "{MODULE}: aws_api_gateway_rest_api does not take disable_execute_api_endpoint from its variable"
        ));
    }
    let passed = tf_files(STACK)
        .iter()
        .flat_map(|f| blocks(&f.body, "module").cloned().collect::<Vec<_>>())
        .filter(|b| label(b, 0) == "api_gateway")
        .filter_map(|b| attr(b.body(), "disable_execute_api_endpoint").map(text))
        .collect::<Vec<_>>();
    // Behind CloudFront the origin is the execute-api endpoint, so only then it stays on.
    if passed != ["var.settings.domain_enabled && !var.settings.cloudfront_enabled"] {
        problems.push(format!(
            "{STACK}: module.api_gateway gets disable_execute_api_endpoint = {passed:?}, \
             not `var.settings.domain_enabled && !var.settings.cloudfront_enabled`"
        ));
    }
    assert_none(problems, "the execute-api endpoint");
}
