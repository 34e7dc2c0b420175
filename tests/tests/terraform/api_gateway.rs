//! API Gateway's account settings (`aws_api_gateway_account`: the CloudWatch Logs role every
//! REST API of an account and region logs through) are a singleton. environments/bootstrap sets
//! them, once per account; the api_gateway module, called once per environment, has no role or
//! switch of its own.

use super::support::{
    ENVIRONMENTS, address, all_tf_files, assert_none, attr, blocks, label, text, tf_files,
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

    // Nor do the environments carry a switch for it.
    for env in ENVIRONMENTS {
        for file in tf_files(&format!("environments/{env}")) {
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
    assert_none(problems, "the API Gateway account logging role");
}
