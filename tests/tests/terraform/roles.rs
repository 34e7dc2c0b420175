//! Least privilege per environment (environments/bootstrap): one deploy role per environment
//! that names only that environment's resources and state, trusted only by its GitHub
//! environment on main; a read-only plan role for pull requests; and a permissions boundary on
//! every role a deploy creates, which the deploy roles cannot create a role without.

use std::collections::BTreeSet;

use hcl::{Block, Expression, Object, ObjectKey};

use super::support::{
    assert_none, attr, blocks, key_name, label, literal_str, project_root, str_attr, text, tf_files,
};

/// Statements of a deploy role whose resources AWS names by an ID assigned at creation (or that
/// take no resource at all), so no name prefix can scope them, and why each is still confined.
const ID_NAMED: [(&str, &str); 19] = [
    (
        "LambdaAccountSettings",
        "the account's limits: a read without a resource",
    ),
    (
        "LogGroups",
        "API Gateway's execution log groups are named by the REST API's ID",
    ),
    (
        "LambdaEventSourceMappingWrite",
        "condition lambda:FunctionArn on e's functions",
    ),
    (
        "LambdaEventSourceMappingRead",
        "read and tag only; UUID-named",
    ),
    ("LogGroupsDescribe", "a list call"),
    ("WafLogDelivery", "no resource-level permissions"),
    (
        "ApiGateway",
        "REST APIs, plans and keys are ID-named (known limit)",
    ),
    ("ApiGatewayWafAssociation", "stage of an ID-named REST API"),
    ("KmsCreateKey", "e's tags required"),
    ("KmsProjectKeys", "e's tags required"),
    ("KmsListAliases", "a list call"),
    ("CostAnomalyCreate", "e's tags required"),
    ("CostAnomalyResources", "e's tags required"),
    ("CostAnomalyRead", "list calls"),
    ("AcmRequestCertificate", "e's tags required"),
    ("AcmCertificates", "e's tags required"),
    (
        "CloudFrontDistributions",
        "ID-named, no tag checks (known limit)",
    ),
    ("CloudFrontCreateDistribution", "e's tags required"),
    ("Route53Changes", "change IDs"),
];

/// Of [`ID_NAMED`], those confined by e's tags (`local.request_tags[e]` on a create,
/// `local.resource_tags[e]` on the resources).
const TAGGED: [&str; 7] = [
    "KmsCreateKey",
    "KmsProjectKeys",
    "CostAnomalyCreate",
    "CostAnomalyResources",
    "AcmRequestCertificate",
    "AcmCertificates",
    "CloudFrontCreateDistribution",
];

/// Statements that are about the project's shared resources (named by the bootstrap), not an
/// environment's: each narrowed as stated.
const SHARED: [(&str, &str); 8] = [
    (
        "ArtifactObjectsCreate",
        "new content-addressed objects only (If-None-Match)",
    ),
    (
        "CloudFrontManagedPolicies",
        "read-only look-ups of AWS managed policies",
    ),
    ("StateBucketList", "lists keys of the state bucket"),
    ("ArtifactBucketList", "lists keys of the artifact bucket"),
    (
        "ArtifactObjects",
        "content-addressed zips and release manifests",
    ),
    (
        "CloudFrontSigningKeys",
        "public keys and key groups: no resource-level permissions",
    ),
    (
        "CloudFrontCreatePolicies",
        "create calls that take no resource",
    ),
    (
        "CloudFrontPolicies",
        "ID-named origin access controls and headers policies",
    ),
];

fn bootstrap_locals() -> Vec<(String, Expression)> {
    tf_files("environments/bootstrap")
        .iter()
        .flat_map(|f| blocks(&f.body, "locals").cloned().collect::<Vec<_>>())
        .flat_map(|b| {
            b.body()
                .attributes()
                .map(|a| (a.key().to_owned(), a.expr().clone()))
                .collect::<Vec<_>>()
        })
        .collect()
}

fn local(name: &str) -> Expression {
    bootstrap_locals()
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
        .unwrap_or_else(|| panic!("environments/bootstrap has no local.{name}"))
}

fn bootstrap_module(name: &str) -> Block {
    tf_files("environments/bootstrap")
        .iter()
        .flat_map(|f| blocks(&f.body, "module").cloned().collect::<Vec<_>>())
        .find(|b| label(b, 0) == name)
        .unwrap_or_else(|| panic!("environments/bootstrap has no module \"{name}\""))
}

fn field<'a>(object: &'a Object<ObjectKey, Expression>, name: &str) -> Option<&'a Expression> {
    object
        .iter()
        .find(|(k, _)| key_name(k) == name)
        .map(|(_, v)| v)
}

/// Objects shaped like IAM statements (with `actions`) in `expr`, through lists, function calls
/// and conditionals.
fn statements<'a>(expr: &'a Expression, out: &mut Vec<&'a Object<ObjectKey, Expression>>) {
    match expr {
        Expression::Object(object) if field(object, "actions").is_some() => out.push(object),
        Expression::Array(list) => list.iter().for_each(|e| statements(e, out)),
        Expression::FuncCall(call) => call.args.iter().for_each(|e| statements(e, out)),
        Expression::Conditional(c) => {
            statements(&c.true_expr, out);
            statements(&c.false_expr, out);
        }
        Expression::Parenthesis(inner) => statements(inner, out),
        Expression::ForExpr(for_expr) => statements(&for_expr.value_expr, out),
        _ => {}
    }
}

/// HCL text without whitespace, for comparing expressions however they are laid out.
fn compact(hcl: &str) -> String {
    hcl.split_whitespace().collect()
}

fn literals(expr: Option<&Expression>) -> Vec<String> {
    match expr {
        Some(Expression::Array(items)) => items.iter().map(text).collect(),
        Some(other) => vec![text(other)],
        None => Vec::new(),
    }
}

/// `local.deploy_statements`: `{ for e, settings in var.deploy_environments : e => … }`, as
/// the key variable and the per-environment value.
fn per_environment_statements() -> (String, Expression) {
    let Expression::ForExpr(for_expr) = local("deploy_statements") else {
        panic!(
            "local.deploy_statements must be `{{ for e, settings in var.deploy_environments : e => [...] }}`"
        );
    };
    assert_eq!(
        text(&for_expr.collection_expr),
        "var.deploy_environments",
        "local.deploy_statements must be built once per deploy environment"
    );
    let key = for_expr
        .key_var
        .as_ref()
        .map(|k| k.as_str().to_owned())
        .unwrap_or_else(|| panic!("local.deploy_statements iterates `e, settings`"));
    assert_eq!(
        for_expr.key_expr.as_ref().map(text).as_deref(),
        Some(key.as_str()),
        "local.deploy_statements is keyed by the environment"
    );
    (key, for_expr.value_expr.clone())
}

#[test]
fn each_deploy_role_names_only_its_environments_resources_and_state() {
    let (e, value) = per_environment_statements();
    let value_text = text(&value);
    let mut problems = Vec::new();
    // Nothing inside one environment's list may reach for the others.
    for other in [
        "var.deploy_environments",
        "values(",
        "keys(",
        "var.environments",
    ] {
        if value_text.contains(other) {
            problems.push(format!(
                "one environment's statements refer to `{other}`: they must name that environment only"
            ));
        }
    }
    let scoped = [
        format!("${{local.p}}-${{{e}}}"),
        format!("${{local.p}}/${{{e}}}/"),
        // Its reviewed plans in the artifact bucket.
        format!("/plans/${{{e}}}/"),
    ];
    let mut found = Vec::new();
    statements(&value, &mut found);
    assert!(
        found.len() >= 30,
        "found only {} statements: is the scan broken?",
        found.len()
    );
    let mut sids = BTreeSet::new();
    for statement in found {
        let sid = field(statement, "sid")
            .and_then(literal_str)
            .unwrap_or("?")
            .to_owned();
        sids.insert(sid.clone());
        let resources = literals(field(statement, "resources"));
        let conditions = field(statement, "conditions").map(text).unwrap_or_default();
        // A resource built from `settings.` is from the environment's own entry (its zones).
        let named = resources
            .iter()
            .all(|r| scoped.iter().any(|s| r.contains(s.as_str())) || r.contains("settings."));
        let exempt = ID_NAMED.iter().chain(SHARED.iter()).any(|(s, _)| *s == sid);
        if !named && !exempt {
            problems.push(format!(
                "{sid}: resources {resources:?} do not all name the environment (`{}…`), and the statement is not listed as ID-named or shared with a reason",
                scoped[0]
            ));
        }
        if named && exempt {
            problems.push(format!(
                "{sid}: names the environment now; take it off the ID-named/shared lists"
            ));
        }
        if TAGGED.contains(&sid.as_str()) {
            let tags = [
                format!("local.request_tags[{e}]"),
                format!("local.resource_tags[{e}]"),
            ];
            if !tags.contains(&conditions) {
                problems.push(format!(
                    "{sid}: must be confined by the environment's tags ({} or {}), has `{conditions}`",
                    tags[0], tags[1]
                ));
            }
        }
        if sid == "StateObjects"
            && resources != [format!("\"${{local.state_arn}}/${{local.p}}/${{{e}}}/*\"")]
        {
            problems.push(format!(
                "StateObjects must be exactly the environment's state prefix, is {resources:?}"
            ));
        }
    }
    for (sid, _) in ID_NAMED.iter().chain(SHARED.iter()) {
        if !sids.contains(*sid) {
            problems.push(format!(
                "{sid} is listed as ID-named or shared but no statement has it"
            ));
        }
    }
    // Each environment's state is <project>/<env>/terraform.tfstate: inside that prefix.
    for env in super::support::ENVIRONMENTS {
        let backend =
            std::fs::read_to_string(project_root().join(format!("environments/{env}/backend.tf")))
                .unwrap();
        let key = format!("key          = \"imagegen/{env}/terraform.tfstate\"");
        if !backend.contains(&key) {
            problems.push(format!(
                "environments/{env}/backend.tf: the state key must be imagegen/{env}/terraform.tfstate, inside the deploy role's prefix"
            ));
        }
    }
    // A create's tag action cannot retag another environment's resource: it may only reach a
    // resource without an Environment tag.
    let request_tags = compact(&text(&local("request_tags")));
    if !request_tags.contains(&compact(
        "test = \"Null\" variable = \"aws:ResourceTag/Environment\" values = [\"true\"]",
    )) {
        problems.push(format!(
            "local.request_tags must require that the resource has no Environment tag yet: {request_tags}"
        ));
    }
    // The role for environment e gets e's list and nothing else.
    let roles = bootstrap_module("deploy_roles");
    for (argument, expected) in [
        ("for_each", "var.deploy_environments"),
        ("policy_statements", "local.deploy_statements[each.key]"),
        ("role_name", "\"${local.p}-deploy-${each.key}\""),
    ] {
        let actual = attr(roles.body(), argument).map(text).unwrap_or_default();
        if compact(&actual) != compact(expected) {
            problems.push(format!(
                "module.deploy_roles: {argument} must be `{expected}`, is `{actual}`"
            ));
        }
    }
    assert_none(problems, "the per-environment deploy roles");
}

#[test]
fn deploy_roles_trust_only_their_github_environment_and_main() {
    let mut problems = Vec::new();
    let roles = bootstrap_module("deploy_roles");
    for (argument, expected) in [
        (
            "subjects",
            "[\"environment:${each.value.github_environment}\"]",
        ),
        ("refs", "each.value.refs"),
    ] {
        let actual = attr(roles.body(), argument).map(text).unwrap_or_default();
        if compact(&actual) != compact(expected) {
            problems.push(format!(
                "module.deploy_roles: {argument} must be `{expected}`, is `{actual}`"
            ));
        }
    }
    // The defaults: staging from the `staging` environment, prod from `production`, and every
    // environment's refs default to main.
    let variable = tf_files("environments/bootstrap")
        .iter()
        .flat_map(|f| blocks(&f.body, "variable").cloned().collect::<Vec<_>>())
        .find(|b| label(b, 0) == "deploy_environments")
        .expect("variable deploy_environments");
    let default = attr(variable.body(), "default")
        .map(text)
        .unwrap_or_default();
    for (env, github) in [("staging", "staging"), ("prod", "production")] {
        let entry = format!("{env} = {{ github_environment = \"{github}\" }}");
        if !default
            .replace(char::is_whitespace, "")
            .contains(&entry.replace(' ', ""))
        {
            problems.push(format!(
                "deploy_environments must default {env} to the GitHub environment `{github}` (and no other refs than the default), is `{default}`"
            ));
        }
    }
    let ty = attr(variable.body(), "type").map(text).unwrap_or_default();
    if !ty.contains("optional(list(string), [\"refs/heads/main\"])") {
        problems.push(format!(
            "deploy_environments.refs must default to [\"refs/heads/main\"], type is `{ty}`"
        ));
    }
    // The trust policy of modules/github_oidc: exact matches only.
    let module = tf_files("modules/github_oidc");
    let assume = module
        .iter()
        .flat_map(|f| blocks(&f.body, "data").cloned().collect::<Vec<_>>())
        .find(|b| label(b, 1) == "assume")
        .expect("modules/github_oidc: data.aws_iam_policy_document.assume");
    let mut conditions = Vec::new();
    for statement in blocks(assume.body(), "statement") {
        for c in blocks(statement.body(), "condition") {
            conditions.push((
                str_attr(c.body(), "test").unwrap_or("").to_owned(),
                attr(c.body(), "variable").map(text).unwrap_or_default(),
                attr(c.body(), "values").map(text).unwrap_or_default(),
            ));
        }
        for d in blocks(statement.body(), "dynamic") {
            for content in blocks(d.body(), "content") {
                conditions.push((
                    str_attr(content.body(), "test").unwrap_or("").to_owned(),
                    attr(content.body(), "variable")
                        .map(text)
                        .unwrap_or_default(),
                    attr(content.body(), "values").map(text).unwrap_or_default(),
                ));
            }
        }
    }
    for (variable, values) in [
        (":aud\"", "[\"sts.amazonaws.com\"]"),
        (
            ":sub\"",
            "[for s in var.subjects : \"repo:${var.repository}:${s}\"]",
        ),
        (":ref\"", "condition.value"),
    ] {
        match conditions.iter().find(|(_, v, _)| v.ends_with(variable)) {
            Some((test, _, actual)) => {
                if test != "StringEquals" {
                    problems.push(format!(
                        "the trust's {variable} condition must be StringEquals (no patterns), is {test}"
                    ));
                }
                if compact(actual) != compact(values) {
                    problems.push(format!(
                        "the trust's {variable} condition must be {values}, is {actual}"
                    ));
                }
            }
            None => problems.push(format!("the trust has no {variable} condition")),
        }
    }
    let variables =
        std::fs::read_to_string(project_root().join("modules/github_oidc/variables.tf")).unwrap();
    if !variables.contains(
        r#"^(environment:[A-Za-z0-9_.-]+|pull_request|ref:refs/(heads|tags)/[A-Za-z0-9_./-]+)$"#,
    ) {
        problems.push(
            "modules/github_oidc: subjects must be validated as exact subjects (no wildcards)"
                .into(),
        );
    }
    assert_none(problems, "who may assume the deploy roles");
}

/// The read actions the plan role keeps, as plan_policy.tf filters them.
fn is_read(action: &str) -> bool {
    let name = action.split_once(':').map_or("", |(_, n)| n);
    ["Describe", "Get", "List", "View"]
        .iter()
        .any(|verb| name.starts_with(verb))
        || action == "apigateway:GET"
}

#[test]
fn the_plan_role_is_read_only_and_for_pull_requests_and_main() {
    let mut problems = Vec::new();
    let plan = bootstrap_module("plan_roles");
    for (argument, expected) in [
        ("for_each", "var.deploy_environments"),
        (
            "subjects",
            "each.value.plan_on_pull_requests ? [\"pull_request\", \"ref:refs/heads/main\"] : [\"ref:refs/heads/main\"]",
        ),
        ("policy_statements", "local.plan_statements[each.key]"),
        ("role_name", "\"${local.p}-plan-${each.key}\""),
    ] {
        let actual = attr(plan.body(), argument).map(text).unwrap_or_default();
        if compact(&actual) != compact(expected) {
            problems.push(format!(
                "module.plan_roles: {argument} must be `{expected}`, is `{actual}`"
            ));
        }
    }
    if attr(plan.body(), "refs").is_some() {
        problems.push("module.plan_roles: their subjects say where they run; no refs".into());
    }
    let regex = text(&local("read_action"));
    if regex != r#""^[a-z0-9-]+:(Describe|Get|List|View)[A-Za-z]*$""# {
        problems.push(format!(
            "local.read_action must keep Describe/Get/List/View actions only, is {regex}"
        ));
    }
    let plan_statements = text(&local("plan_statements"));
    if !plan_statements.contains("try(s.effect, \"Allow\") == \"Deny\" ? s.actions") {
        problems.push("local.plan_statements must keep the deploy statements' denies whole".into());
    }
    if plan_statements
        .matches("can(regex(local.read_action, a)) || a == \"apigateway:GET\"")
        .count()
        != 2
    {
        problems.push(
            "local.plan_statements must keep exactly the read actions (and apigateway:GET) of each statement"
                .into(),
        );
    }
    // Its one write: saved plans into the artifact bucket's plans/.
    let writes: Vec<&str> = plan_statements
        .split('"')
        .filter(|word| {
            // `service:Action` names (condition keys are lower case after the colon).
            word.split_once(':')
                .is_some_and(|(_, name)| name.starts_with(|c: char| c.is_ascii_uppercase()))
                && !word.contains(' ')
                && !word.starts_with("${")
                && !is_read(word)
        })
        .collect();
    if writes != ["s3:PutObject"]
        || !plan_statements.contains("resources = [\"${local.artifs_arn}/plans/${e}/*\"]")
        || !plan_statements.contains("variable = \"s3:if-none-match\"")
    {
        problems.push(format!(
            "a plan role's only write must be s3:PutObject of new objects under its environment's plans/ in the artifact bucket, writes {writes:?}"
        ));
    }
    // What the filter keeps of the deploy statements is read-only, and no secret but the
    // download signing key (which is in the state anyway) can be read.
    let (_, value) = per_environment_statements();
    let mut found = Vec::new();
    statements(&value, &mut found);
    for statement in found {
        let sid = field(statement, "sid").and_then(literal_str).unwrap_or("?");
        for action in literals(field(statement, "actions")) {
            let action = action.trim_matches('"');
            if !is_read(action) {
                continue;
            }
            let denies = field(statement, "effect").and_then(literal_str) == Some("Deny");
            if action == "secretsmanager:GetSecretValue" && !denies {
                let resources = literals(field(statement, "resources"));
                if !resources
                    .iter()
                    .all(|r| r.contains("/download-signing-key-??????"))
                {
                    problems.push(format!(
                        "{sid}: the plan role could read secrets {resources:?}; only the download signing key"
                    ));
                }
            }
        }
    }
    assert_none(problems, "the plan role");
}

#[test]
fn every_role_a_deploy_creates_carries_the_boundary_and_deploy_roles_cannot_drop_it() {
    let mut problems = Vec::new();
    // Every IAM role under modules/ other than the GitHub roles (which the bootstrap makes).
    for module in super::support::modules() {
        if module == "github_oidc" {
            continue;
        }
        for file in tf_files(&format!("modules/{module}")) {
            for role in blocks(&file.body, "resource").filter(|b| label(b, 0) == "aws_iam_role") {
                let boundary = attr(role.body(), "permissions_boundary").map(text);
                if boundary.as_deref() != Some("var.permissions_boundary_arn") {
                    problems.push(format!(
                        "{}: aws_iam_role.{} must set permissions_boundary = var.permissions_boundary_arn",
                        file.path,
                        label(role, 1)
                    ));
                }
            }
        }
    }
    let variables = tf_files("modules/lambda_function");
    let required = variables
        .iter()
        .flat_map(|f| blocks(&f.body, "variable").cloned().collect::<Vec<_>>())
        .find(|b| label(b, 0) == "permissions_boundary_arn")
        .is_some_and(|b| attr(b.body(), "default").is_none());
    if !required {
        problems.push(
            "modules/lambda_function: permissions_boundary_arn must be a required variable".into(),
        );
    }
    // Every function of the stack gets the boundary the bootstrap names for its environment.
    let stack = tf_files("modules/stack");
    let locals: Vec<(String, String)> = stack
        .iter()
        .flat_map(|f| blocks(&f.body, "locals").cloned().collect::<Vec<_>>())
        .flat_map(|b| {
            b.body()
                .attributes()
                .map(|a| (a.key().to_owned(), text(a.expr())))
                .collect::<Vec<_>>()
        })
        .collect();
    let derived = locals
        .iter()
        .find(|(k, _)| k == "permissions_boundary_arn")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    if !derived.ends_with(":policy/${local.name_prefix}-boundary\"") {
        problems.push(format!(
            "modules/stack: local.permissions_boundary_arn must name <project>-<env>-boundary, the bootstrap's aws_iam_policy.boundary; is `{derived}`"
        ));
    }
    let functions: Vec<Block> = stack
        .iter()
        .flat_map(|f| blocks(&f.body, "module").cloned().collect::<Vec<_>>())
        .filter(|b| {
            str_attr(b.body(), "source").is_some_and(|s| s.ends_with("modules/lambda_function"))
        })
        .collect();
    assert!(
        functions.len() >= 2,
        "modules/stack calls no lambda_function"
    );
    for function in &functions {
        if attr(function.body(), "permissions_boundary_arn")
            .map(text)
            .as_deref()
            != Some("local.permissions_boundary_arn")
        {
            problems.push(format!(
                "modules/stack: module.{} must get permissions_boundary_arn = local.permissions_boundary_arn",
                label(function, 0)
            ));
        }
    }
    let boundary = tf_files("environments/bootstrap")
        .iter()
        .flat_map(|f| blocks(&f.body, "resource").cloned().collect::<Vec<_>>())
        .find(|b| label(b, 0) == "aws_iam_policy" && label(b, 1) == "boundary")
        .expect("environments/bootstrap: aws_iam_policy.boundary");
    if attr(boundary.body(), "name").map(text).as_deref()
        != Some("\"${local.p}-${each.key}-boundary\"")
    {
        problems.push("aws_iam_policy.boundary must be named <project>-<env>-boundary".into());
    }
    // The deploy role's IAM actions: the ones that set what a role may do only with the
    // boundary in place, none that removes it or writes managed policies.
    let (e, value) = per_environment_statements();
    let mut found = Vec::new();
    statements(&value, &mut found);
    let guarded = [
        "iam:CreateRole",
        "iam:PutRolePolicy",
        "iam:DeleteRolePolicy",
        "iam:PutRolePermissionsBoundary",
    ];
    let forbidden = [
        "iam:DeleteRolePermissionsBoundary",
        "iam:AttachRolePolicy",
        "iam:DetachRolePolicy",
        "iam:CreatePolicy",
        "iam:CreatePolicyVersion",
        "iam:SetDefaultPolicyVersion",
        "iam:DeletePolicy",
        "iam:CreateUser",
        "iam:PassRole",
        // A role's trust never changes after creation: changing it could open the role to
        // anyone.
        "iam:UpdateAssumeRolePolicy",
    ];
    let own_boundary = format!("aws_iam_policy.boundary[{e}].arn");
    let mut seen = BTreeSet::new();
    for statement in &found {
        let sid = field(statement, "sid").and_then(literal_str).unwrap_or("?");
        let conditions = field(statement, "conditions")
            .map(text)
            .unwrap_or_default()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        for action in literals(field(statement, "actions")) {
            let action = action.trim_matches('"').to_owned();
            if guarded.contains(&action.as_str()) {
                seen.insert(action.clone());
                if !(conditions.contains("\"iam:PermissionsBoundary\"")
                    && conditions.contains(&own_boundary))
                {
                    problems.push(format!(
                        "{sid}: {action} without the condition iam:PermissionsBoundary = aws_iam_policy.boundary[{e}].arn"
                    ));
                }
            }
            if forbidden.contains(&action.as_str()) && sid != "IamPassRoleToLambda" {
                problems.push(format!("{sid}: the deploy role must not have {action}"));
            }
        }
    }
    for action in guarded {
        if !seen.contains(action) {
            problems.push(format!(
                "the deploy role needs {action} (with the boundary condition) to manage its functions' roles"
            ));
        }
    }
    assert_none(problems, "permissions boundaries");
}

/// The literal `service:Action` names of an `actions` list.
fn action_names(expr: Option<&Expression>) -> Vec<String> {
    literals(expr)
        .into_iter()
        .map(|a| a.trim_matches('"').to_owned())
        .filter(|a| {
            a.split_once(':').is_some_and(|(service, name)| {
                !service.is_empty()
                    && service
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                    && !name.is_empty()
                    && name.bytes().all(|b| b.is_ascii_alphabetic())
            })
        })
        .collect()
}

/// Every action of `expr`'s statement objects, and of `aws_iam_policy_document` blocks.
fn granted_actions(dir: &str, out: &mut BTreeSet<String>) {
    for file in tf_files(dir) {
        for block in file.body.blocks() {
            for attribute in block.body().attributes() {
                let mut found = Vec::new();
                statements(attribute.expr(), &mut found);
                for statement in found {
                    out.extend(action_names(field(statement, "actions")));
                }
            }
            // Trust policies (`assume`) say who may assume a role, not what it may do.
            if block.identifier() == "data"
                && label(block, 0) == "aws_iam_policy_document"
                && label(block, 1) != "assume"
            {
                for statement in blocks(block.body(), "statement") {
                    out.extend(action_names(attr(statement.body(), "actions")));
                }
            }
        }
    }
}

#[test]
fn every_action_a_workload_role_is_granted_is_within_its_boundary() {
    let mut granted = BTreeSet::new();
    granted_actions("modules/stack", &mut granted);
    granted_actions("modules/lambda_function", &mut granted);
    for expected in [
        "dynamodb:PutItem",
        "sqs:SendMessage",
        "apigateway:POST",
        "logs:PutLogEvents",
    ] {
        assert!(
            granted.contains(expected),
            "the scan found no {expected}: is it broken? {granted:?}"
        );
    }
    let boundary = tf_files("environments/bootstrap")
        .iter()
        .flat_map(|f| blocks(&f.body, "data").cloned().collect::<Vec<_>>())
        .find(|b| label(b, 0) == "aws_iam_policy_document" && label(b, 1) == "boundary")
        .expect("environments/bootstrap: data.aws_iam_policy_document.boundary");
    let allowed: BTreeSet<String> = blocks(boundary.body(), "statement")
        .flat_map(|s| literals(attr(s.body(), "actions")))
        .map(|a| a.trim_matches('"').to_owned())
        .collect();
    let missing: Vec<String> = granted
        .difference(&allowed)
        .map(|a| {
            format!(
                "{a}: add it to environments/bootstrap/boundary.tf (and apply the bootstrap first)"
            )
        })
        .collect();
    assert_none(
        missing,
        "actions granted to a function's role that its permissions boundary would deny",
    );
}
