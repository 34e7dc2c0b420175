//! SQS: every queue with a dead-letter queue (the jobs queue, the webhook queue) feeds the
//! worker through an event source mapping that reports item failures, with the visibility
//! timeout AWS asks for; every dead-letter queue keeps its messages 14 days, takes redrives from
//! its own queue only and has an alarm on the alert topic. The webhooks' queues and table reach
//! the functions that use them, with the actions their code calls and no more.

use std::collections::{BTreeMap, BTreeSet};

use hcl::{Block, Body, Expression, Object, ObjectKey};

use super::support::{
    STACK, assert_none, attr, blocks, function_environments, key_name, label, text, tf_files,
};

const QUEUE: &str = "modules/queue";
const OBSERVABILITY: &str = "modules/observability";

/// SQS keeps a message at most 14 days; a dead letter should stay that long to be looked at.
const FOURTEEN_DAYS: &str = "1209600";

/// What the worker's role needs on a queue its event source mapping polls (AWS documents these
/// four for the mapping's execution role).
const CONSUME: [&str; 4] = [
    "sqs:ChangeMessageVisibility",
    "sqs:DeleteMessage",
    "sqs:GetQueueAttributes",
    "sqs:ReceiveMessage",
];

fn resources(dir: &str, kind: &str) -> Vec<Block> {
    tf_files(dir)
        .iter()
        .flat_map(|f| blocks(&f.body, "resource").cloned().collect::<Vec<_>>())
        .filter(|b| label(b, 0) == kind)
        .collect()
}

/// A module's locals, or its outputs' values, by name.
fn named(dir: &str, identifier: &str) -> BTreeMap<String, Expression> {
    let mut out = BTreeMap::new();
    for file in tf_files(dir) {
        for block in blocks(&file.body, identifier) {
            if identifier == "locals" {
                for a in block.body().attributes() {
                    out.insert(a.key().to_owned(), a.expr().clone());
                }
            } else if let Some(value) = attr(block.body(), "value") {
                out.insert(label(block, 0).to_owned(), value.clone());
            }
        }
    }
    out
}

fn field<'a>(object: &'a Object<ObjectKey, Expression>, name: &str) -> Option<&'a Expression> {
    object
        .iter()
        .find(|(k, _)| key_name(k) == name)
        .map(|(_, v)| v)
}

/// The object inside `jsonencode({ … })`.
fn jsonencoded(expr: Option<&Expression>) -> Option<&Object<ObjectKey, Expression>> {
    match expr {
        Some(Expression::FuncCall(call)) if call.name.name.as_str() == "jsonencode" => {
            match call.args.as_slice() {
                [Expression::Object(object)] => Some(object),
                _ => None,
            }
        }
        _ => None,
    }
}

/// HCL text without whitespace, for comparing expressions however they are laid out.
fn compact(expr: &Expression) -> String {
    text(expr).split_whitespace().collect()
}

/// `aws_sqs_queue.<name>.arn` → `<name>`.
fn queue_of(reference: &str, attribute: &str) -> Option<String> {
    reference
        .strip_prefix("aws_sqs_queue.")?
        .strip_suffix(&format!(".{attribute}"))
        .map(str::to_owned)
}

/// Each queue with a redrive policy, with the queue it dead-letters to.
fn dead_letter_targets(queues: &[Block]) -> BTreeMap<String, String> {
    queues
        .iter()
        .filter_map(|q| {
            let policy = jsonencoded(attr(q.body(), "redrive_policy"))?;
            let target = field(policy, "deadLetterTargetArn").map(text)?;
            Some((label(q, 1).to_owned(), queue_of(&target, "arn")?))
        })
        .collect()
}

/// The queue module's output that is `aws_sqs_queue.<queue>.<attribute>`.
fn output_of(queue: &str, attribute: &str) -> Option<String> {
    let want = format!("aws_sqs_queue.{queue}.{attribute}");
    named(QUEUE, "output")
        .into_iter()
        .find(|(_, value)| text(value) == want)
        .map(|(name, _)| name)
}

#[test]
fn every_queue_with_a_dead_letter_queue_feeds_the_worker_and_reports_item_failures() {
    let queues = resources(QUEUE, "aws_sqs_queue");
    let mappings = resources(QUEUE, "aws_lambda_event_source_mapping");
    let locals = named(QUEUE, "locals");
    let sources = dead_letter_targets(&queues);
    let mut problems = Vec::new();
    for name in ["jobs", "webhooks"] {
        if !sources.contains_key(name) {
            problems.push(format!(
                "{QUEUE}: aws_sqs_queue.{name} has no redrive_policy to a dead-letter queue"
            ));
        }
    }
    for source in sources.keys() {
        let at = format!("{QUEUE}: aws_sqs_queue.{source}");
        let arn = format!("aws_sqs_queue.{source}.arn");
        let mapping = mappings
            .iter()
            .find(|m| attr(m.body(), "event_source_arn").map(text).as_deref() == Some(&arn));
        let Some(mapping) = mapping else {
            problems.push(format!("{at}: no aws_lambda_event_source_mapping reads it"));
            continue;
        };
        let body = mapping.body();
        let at = format!(
            "{QUEUE}: aws_lambda_event_source_mapping.{}",
            label(mapping, 1)
        );
        for (argument, want) in [
            ("function_name", "var.worker_function_arn"),
            ("function_response_types", "[\"ReportBatchItemFailures\"]"),
        ] {
            let got = attr(body, argument).map(compact);
            if got.as_deref() != Some(want) {
                problems.push(format!("{at}: {argument} is {got:?}, expected {want}"));
            }
        }
        // Without a cap one queue could take every invocation the worker has.
        let cap = blocks(body, "scaling_config")
            .next()
            .and_then(|c| attr(c.body(), "maximum_concurrency"))
            .map(text);
        if !cap.as_deref().is_some_and(|c| c.starts_with("var.")) {
            problems.push(format!(
                "{at}: scaling_config.maximum_concurrency is {cap:?}, expected a variable"
            ));
        }
        // AWS: at least six times the function's timeout (plus the batching window).
        let queue = queues.iter().find(|q| label(q, 1) == source).unwrap();
        let visibility = attr(queue.body(), "visibility_timeout_seconds").map(text);
        let resolved = visibility
            .as_deref()
            .and_then(|v| v.strip_prefix("local."))
            .and_then(|l| locals.get(l))
            .map(text)
            .or(visibility.clone())
            .unwrap_or_default();
        if !resolved.starts_with("6 * var.worker_timeout_seconds") {
            problems.push(format!(
                "{QUEUE}: aws_sqs_queue.{source}.visibility_timeout_seconds is `{resolved}`, expected 6 * var.worker_timeout_seconds (+ the batching window)"
            ));
        }
    }
    // Webhook deliveries: ten a batch, each reported on its own.
    match mappings.iter().find(|m| {
        attr(m.body(), "event_source_arn").map(text).as_deref()
            == Some("aws_sqs_queue.webhooks.arn")
    }) {
        Some(m) if attr(m.body(), "batch_size").map(text).as_deref() == Some("10") => {}
        Some(m) => problems.push(format!(
            "{QUEUE}: the webhook queue's mapping takes batches of {:?}, expected 10",
            attr(m.body(), "batch_size").map(text)
        )),
        None => {}
    }
    assert_none(problems, "queues the worker does not consume as it should");
}

/// The alarms of modules/observability on a queue named by `var.<variable>`.
fn alarms_on(variable: &str) -> Vec<Block> {
    fn names_queue(body: &Body, want: &str) -> bool {
        let here = matches!(
            attr(body, "dimensions"),
            Some(Expression::Object(d)) if field(d, "QueueName").map(text).as_deref() == Some(want)
        );
        here || body.blocks().any(|b| names_queue(b.body(), want))
    }
    let want = format!("var.{variable}");
    resources(OBSERVABILITY, "aws_cloudwatch_metric_alarm")
        .into_iter()
        .filter(|a| names_queue(a.body(), &want))
        .collect()
}

#[test]
fn every_dead_letter_queue_keeps_its_messages_takes_only_its_queue_and_alarms() {
    let queues = resources(QUEUE, "aws_sqs_queue");
    let allow_policies = resources(QUEUE, "aws_sqs_queue_redrive_allow_policy");
    let observability = tf_files(STACK)
        .iter()
        .flat_map(|f| blocks(&f.body, "module").cloned().collect::<Vec<_>>())
        .find(|b| label(b, 0) == "observability")
        .unwrap_or_else(|| panic!("{STACK}: no module.observability"));
    let targets = dead_letter_targets(&queues);
    assert!(
        targets.len() >= 2,
        "{QUEUE}: found {} queues with a dead-letter queue: is the scan broken?",
        targets.len()
    );
    let mut problems = Vec::new();
    for (source, dlq) in &targets {
        let at = format!("{QUEUE}: aws_sqs_queue.{dlq}");
        let Some(queue) = queues.iter().find(|q| label(q, 1) == dlq) else {
            problems.push(format!(
                "{at} (aws_sqs_queue.{source}'s dead-letter queue) is not declared"
            ));
            continue;
        };
        let retention = attr(queue.body(), "message_retention_seconds").map(text);
        if retention.as_deref() != Some(FOURTEEN_DAYS) {
            problems.push(format!(
                "{at}: message_retention_seconds is {retention:?}, expected {FOURTEEN_DAYS} (14 days)"
            ));
        }

        // Redrives only from its own queue.
        let dlq_url = format!("aws_sqs_queue.{dlq}.id");
        let allowed = allow_policies
            .iter()
            .find(|p| attr(p.body(), "queue_url").map(text).as_deref() == Some(&dlq_url))
            .and_then(|p| jsonencoded(attr(p.body(), "redrive_allow_policy")))
            .map(|p| {
                (
                    field(p, "redrivePermission").map(compact),
                    field(p, "sourceQueueArns").map(compact),
                )
            });
        let want = (
            Some("\"byQueue\"".to_owned()),
            Some(format!("[aws_sqs_queue.{source}.arn]")),
        );
        if allowed.as_ref() != Some(&want) {
            problems.push(format!(
                "{at}: its redrive allow policy is {allowed:?}, expected byQueue from aws_sqs_queue.{source} only"
            ));
        }

        // The stack hands its name to the observability module, which alarms on it.
        let Some(output) = output_of(dlq, "name") else {
            problems.push(format!("{QUEUE}: no output is aws_sqs_queue.{dlq}.name"));
            continue;
        };
        let passed = format!("module.queue.{output}");
        let variable = observability
            .body()
            .attributes()
            .find(|a| text(a.expr()) == passed)
            .map(|a| a.key().to_owned());
        let Some(variable) = variable else {
            problems.push(format!(
                "{STACK}: module.observability is not given {passed}"
            ));
            continue;
        };
        let alarms = alarms_on(&variable);
        let alarmed = alarms.iter().any(|a| {
            let body = a.body();
            attr(body, "comparison_operator").map(text).as_deref()
                == Some("\"GreaterThanThreshold\"")
                && attr(body, "threshold").map(text).as_deref() == Some("0")
                && attr(body, "alarm_actions").map(text).as_deref() == Some("local.alarm_actions")
        });
        if !alarmed {
            problems.push(format!(
                "{OBSERVABILITY}: no alarm fires on any message in var.{variable} ({passed}, aws_sqs_queue.{dlq}) and notifies the alert topic; found {:?}",
                alarms.iter().map(|a| label(a, 1).to_owned()).collect::<Vec<_>>()
            ));
        }
    }
    assert_none(problems, "dead-letter queues");
}

/// Objects shaped like IAM statements (with `actions`) in `expr`, through lists and calls.
fn statements<'a>(expr: &'a Expression, out: &mut Vec<&'a Object<ObjectKey, Expression>>) {
    match expr {
        Expression::Object(object) if field(object, "actions").is_some() => out.push(object),
        Expression::Array(list) => list.iter().for_each(|e| statements(e, out)),
        Expression::FuncCall(call) => call.args.iter().for_each(|e| statements(e, out)),
        Expression::Parenthesis(inner) => statements(inner, out),
        _ => {}
    }
}

/// Each function's policy statements (its module's `policy_statements`, a local of the stack):
/// the actions granted on each resource, as HCL text.
fn grants() -> BTreeMap<String, BTreeMap<String, BTreeSet<String>>> {
    let locals = named(STACK, "locals");
    let files = tf_files(STACK);
    let mut out = BTreeMap::new();
    for function in files.iter().flat_map(|f| blocks(&f.body, "module")) {
        let Some(policy) = attr(function.body(), "policy_statements").map(text) else {
            continue;
        };
        let Some(expr) = policy.strip_prefix("local.").and_then(|l| locals.get(l)) else {
            continue;
        };
        let mut found = Vec::new();
        statements(expr, &mut found);
        let mut by_resource: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for statement in found {
            let actions: Vec<String> = match field(statement, "actions") {
                Some(Expression::Array(items)) => items
                    .iter()
                    .map(|a| text(a).trim_matches('"').to_owned())
                    .collect(),
                _ => Vec::new(),
            };
            let resources: Vec<String> = match field(statement, "resources") {
                Some(Expression::Array(items)) => items.iter().map(text).collect(),
                Some(other) => vec![text(other)],
                None => Vec::new(),
            };
            for resource in resources {
                by_resource
                    .entry(resource)
                    .or_default()
                    .extend(actions.iter().cloned());
            }
        }
        out.insert(label(function, 0).to_owned(), by_resource);
    }
    out
}

#[test]
fn the_worker_may_consume_every_queue_it_is_mapped_to() {
    let mappings = resources(QUEUE, "aws_lambda_event_source_mapping");
    let worker = grants()
        .remove("worker")
        .expect("module.worker's policy_statements");
    let mut problems = Vec::new();
    for mapping in &mappings {
        let arn = attr(mapping.body(), "event_source_arn")
            .map(text)
            .unwrap_or_default();
        let Some(queue) = queue_of(&arn, "arn") else {
            problems.push(format!(
                "{QUEUE}: a mapping reads {arn}, not a queue of the module"
            ));
            continue;
        };
        let Some(output) = output_of(&queue, "arn") else {
            problems.push(format!("{QUEUE}: no output is aws_sqs_queue.{queue}.arn"));
            continue;
        };
        let resource = format!("module.queue.{output}");
        let granted = worker.get(&resource).cloned().unwrap_or_default();
        let missing: Vec<&str> = CONSUME
            .into_iter()
            .filter(|a| !granted.contains(*a))
            .collect();
        if !missing.is_empty() {
            problems.push(format!(
                "{STACK}: the worker's role lacks {missing:?} on {resource}, which its event source mapping polls"
            ));
        }
    }
    assert!(
        mappings.len() >= 2,
        "{QUEUE}: {} event source mappings",
        mappings.len()
    );
    assert_none(problems, "queues the worker cannot poll");
}

/// Exactly what the webhooks' code calls, per function and resource (`store::dynamo`,
/// `queue::sqs`): nothing missing, nothing more.
#[test]
fn the_functions_get_the_webhook_queues_and_table_with_the_actions_their_code_calls() {
    let mut problems = Vec::new();
    let environments = function_environments();
    for (function, var, want) in [
        (
            "api",
            "IMAGEGEN_WEBHOOK_QUEUE_URL",
            "module.queue.webhook_queue_url",
        ),
        (
            "worker",
            "IMAGEGEN_WEBHOOK_QUEUE_URL",
            "module.queue.webhook_queue_url",
        ),
        (
            "worker",
            "IMAGEGEN_WEBHOOK_DEAD_LETTER_QUEUE_URL",
            "module.queue.webhook_dlq_url",
        ),
    ] {
        let got = environments.get(function).and_then(|vars| vars.get(var));
        if got.map(String::as_str) != Some(want) {
            problems.push(format!(
                "{STACK}: module.{function} sets {var} = {got:?}, expected {want}"
            ));
        }
    }
    if environments["api"].contains_key("IMAGEGEN_WEBHOOK_DEAD_LETTER_QUEUE_URL") {
        problems.push(format!(
            "{STACK}: module.api gets IMAGEGEN_WEBHOOK_DEAD_LETTER_QUEUE_URL; only the worker dead-letters deliveries"
        ));
    }

    let grants = grants();
    let expected: [(&str, &str, &[&str]); 5] = [
        (
            "api",
            "module.database.webhooks_table_arn",
            &[
                "dynamodb:DeleteItem",
                "dynamodb:GetItem",
                "dynamodb:PutItem",
                "dynamodb:Query",
            ],
        ),
        (
            "api",
            "module.queue.webhook_queue_arn",
            &["sqs:SendMessage"],
        ),
        (
            "worker",
            "module.database.webhooks_table_arn",
            &["dynamodb:GetItem", "dynamodb:PutItem"],
        ),
        (
            "worker",
            "module.queue.webhook_queue_arn",
            &[
                "sqs:ChangeMessageVisibility",
                "sqs:DeleteMessage",
                "sqs:GetQueueAttributes",
                "sqs:ReceiveMessage",
                "sqs:SendMessage",
            ],
        ),
        (
            "worker",
            "module.queue.webhook_dlq_arn",
            &["sqs:SendMessage"],
        ),
    ];
    for (function, resource, want) in expected {
        let want: BTreeSet<String> = want.iter().map(|a| (*a).to_owned()).collect();
        let got = grants
            .get(function)
            .and_then(|g| g.get(resource))
            .cloned()
            .unwrap_or_default();
        if got != want {
            problems.push(format!(
                "{STACK}: module.{function} may {got:?} on {resource}; its code calls {want:?}"
            ));
        }
    }
    // The api neither polls nor dead-letters deliveries.
    if grants["api"].contains_key("module.queue.webhook_dlq_arn") {
        problems.push(format!(
            "{STACK}: module.api has a grant on the webhook dead-letter queue"
        ));
    }
    assert_none(problems, "the webhooks' queues and table");
}
