//! The janitor is deployed: an EventBridge schedule invokes the worker's alias with the input
//! the worker reads as a janitor run, and may do so (a Lambda permission for that rule only).

use imagegen::worker::Invocation;

use super::support::{assert_none, attr, blocks, label, text, tf_files};

#[test]
fn a_schedule_invokes_the_workers_janitor() {
    let files = tf_files("modules/queue");
    let resources: Vec<_> = files
        .iter()
        .flat_map(|f| blocks(&f.body, "resource"))
        .collect();
    let find = |kind: &str| {
        resources
            .iter()
            .find(|b| label(b, 0) == kind)
            .unwrap_or_else(|| panic!("modules/queue declares no {kind}"))
    };
    let mut problems = Vec::new();

    let rule = find("aws_cloudwatch_event_rule");
    let schedule = attr(rule.body(), "schedule_expression").map(text);
    if schedule.as_deref() != Some("var.janitor_schedule_expression") {
        problems.push(format!("the rule's schedule is {schedule:?}"));
    }

    let target = find("aws_cloudwatch_event_target");
    let rule_name = format!("aws_cloudwatch_event_rule.{}.name", label(rule, 1));
    if attr(target.body(), "rule").map(text) != Some(rule_name.clone()) {
        problems.push(format!("the target is not on {rule_name}"));
    }
    if attr(target.body(), "arn").map(text).as_deref() != Some("var.worker_function_arn") {
        problems.push("the target is not the worker's alias".into());
    }
    let input = attr(target.body(), "input").map(text).unwrap_or_default();
    let compact: String = input.chars().filter(|c| !c.is_whitespace()).collect();
    if compact != r#"jsonencode({imagegen="janitor"})"# {
        problems.push(format!("the target's input is {input}"));
    }
    // What that input is, as the worker reads it.
    if !matches!(
        Invocation::parse(serde_json::json!({"imagegen": "janitor"}), "any-webhooks"),
        Ok(Invocation::Janitor)
    ) {
        problems.push("the worker does not read the input as a janitor run".into());
    }

    let permission = find("aws_lambda_permission");
    let rule_arn = format!("aws_cloudwatch_event_rule.{}.arn", label(rule, 1));
    for (argument, want) in [
        ("principal", r#""events.amazonaws.com""#.to_owned()),
        ("source_arn", rule_arn),
        ("function_name", "var.worker_function_name".to_owned()),
        ("qualifier", "var.worker_alias_name".to_owned()),
        ("action", r#""lambda:InvokeFunction""#.to_owned()),
    ] {
        let got = attr(permission.body(), argument).map(text);
        if got.as_deref() != Some(want.as_str()) {
            problems.push(format!(
                "the permission's {argument} is {got:?}, expected {want}"
            ));
        }
    }
    assert_none(problems, "the janitor's schedule");
}
