//! Cost: each environment's budget and cost anomaly monitor select its own spend by the
//! Environment tag every one of its resources carries (the provider's default_tags), anomalies
//! reach the alert topic (which lets Cost Anomaly Detection publish and use its key), and the
//! bootstrap can activate the tags as cost allocation tags.

use hcl::{Block, Expression};

use super::support::{
    ENVIRONMENTS, STACK, assert_none, attr, blocks, key_name, label, literal_str, parse, passes,
    project_root, settings, str_attr, text, tf_files,
};

fn resources(dir: &str, kind: &str) -> Vec<Block> {
    tf_files(dir)
        .iter()
        .flat_map(|f| blocks(&f.body, "resource").cloned().collect::<Vec<_>>())
        .filter(|b| label(b, 0) == kind)
        .collect()
}

#[test]
fn each_environments_budget_and_anomaly_monitor_see_only_its_spend() {
    let mut problems = Vec::new();
    for env in ENVIRONMENTS {
        let settings = settings(env);
        let environment = settings
            .get("environment")
            .and_then(literal_str)
            .unwrap_or_default()
            .to_owned();
        match settings.get("budget_cost_filter_tags") {
            Some(Expression::Object(tags))
                if tags.len() == 1
                    && tags.iter().any(|(k, v)| {
                        key_name(k) == "Environment"
                            && text(v) == format!("\"{environment}\"")
                    }) => {}
            other => problems.push(format!(
                "{}: settings.budget_cost_filter_tags must be {{ Environment = \"{environment}\" }}, found {:?}",
                settings.path,
                other.map(text)
            )),
        }
        // The tag the filter selects is on every resource of the environment.
        let providers = std::fs::read_to_string(
            project_root().join(format!("environments/{env}/providers.tf")),
        )
        .unwrap();
        if !providers.lines().any(|l| {
            l.split_whitespace().collect::<String>() == "Environment=var.settings.environment"
        }) {
            problems.push(format!(
                "environments/{env}/providers.tf: default_tags do not set Environment = var.settings.environment"
            ));
        }
    }
    for (argument, setting) in [
        ("cost_filter_tags", "budget_cost_filter_tags"),
        ("anomaly_threshold_usd", "cost_anomaly_threshold_usd"),
    ] {
        if !passes("cost", argument, setting) {
            problems.push(format!(
                "{STACK}: module.cost must get {argument} = var.settings.{setting}"
            ));
        }
    }

    let monitors = resources("modules/cost", "aws_ce_anomaly_monitor");
    match monitors.as_slice() {
        [monitor] if str_attr(monitor.body(), "monitor_type") == Some("CUSTOM") => {
            // The provider reads the expression back with every field, unused ones null; a
            // missing one is a diff that replaces the monitor (and its learnt baseline).
            let spec: String = attr(monitor.body(), "monitor_specification")
                .map(text)
                .unwrap_or_default()
                .split_whitespace()
                .collect();
            for field in ["And", "CostCategories", "Dimensions", "Not", "Or"] {
                if !spec.contains(&format!("{field}=null")) {
                    problems.push(format!(
                        "modules/cost: the monitor's specification must set {field} = null"
                    ));
                }
            }
        }
        _ => problems.push(
            "modules/cost: one CUSTOM aws_ce_anomaly_monitor over the cost_filter_tags".into(),
        ),
    }
    let subscriptions = resources("modules/cost", "aws_ce_anomaly_subscription");
    let to_topic = subscriptions.iter().any(|s| {
        blocks(s.body(), "subscriber").any(|sub| {
            str_attr(sub.body(), "type") == Some("SNS")
                && attr(sub.body(), "address").map(text).as_deref() == Some("var.alert_topic_arn")
        })
    });
    if !to_topic {
        problems.push(
            "modules/cost: the anomaly subscription must report to var.alert_topic_arn (SNS)"
                .into(),
        );
    }
    assert_none(problems, "cost per environment");
}

#[test]
fn cost_anomaly_detection_may_publish_to_the_encrypted_alert_topic() {
    let main =
        std::fs::read_to_string(project_root().join("modules/observability/main.tf")).unwrap();
    let file = parse(&project_root().join("modules/observability/main.tf"));
    let mut problems = Vec::new();
    for document in ["alerts_topic", "alerts_key"] {
        let allowed = blocks(&file.body, "data")
            .filter(|b| label(b, 0) == "aws_iam_policy_document" && label(b, 1) == document)
            .flat_map(|b| blocks(b.body(), "statement").cloned().collect::<Vec<_>>())
            .any(|s| {
                blocks(s.body(), "principals").any(|p| {
                    attr(p.body(), "identifiers")
                        .map(text)
                        .is_some_and(|ids| ids.contains("\"costalerts.amazonaws.com\""))
                })
            });
        if !allowed {
            problems.push(format!(
                "modules/observability: data.aws_iam_policy_document.{document} does not admit costalerts.amazonaws.com"
            ));
        }
    }
    assert!(
        main.contains("aws_sns_topic_policy"),
        "the topic has a policy"
    );
    assert_none(problems, "the alert topic");
}

#[test]
fn the_bootstrap_can_activate_the_cost_allocation_tags_the_filters_use() {
    let tags = resources("environments/bootstrap", "aws_ce_cost_allocation_tag");
    let [tag] = tags.as_slice() else {
        panic!("environments/bootstrap: one aws_ce_cost_allocation_tag resource");
    };
    let for_each = attr(tag.body(), "for_each").map(text).unwrap_or_default();
    for key in ["\"Project\"", "\"Environment\""] {
        assert!(for_each.contains(key), "it activates {key}: {for_each}");
    }
    assert_eq!(str_attr(tag.body(), "status"), Some("Active"));
}
