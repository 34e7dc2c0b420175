locals {
  notifications = {
    forecasted_100 = { type = "FORECASTED", threshold = 100 }
    actual_80      = { type = "ACTUAL", threshold = 80 }
    actual_100     = { type = "ACTUAL", threshold = 100 }
  }
}

resource "aws_budgets_budget" "monthly" {
  name         = "${var.name_prefix}-monthly"
  budget_type  = "COST"
  limit_amount = format("%.2f", var.monthly_budget_usd)
  limit_unit   = "USD"
  time_unit    = "MONTHLY"

  dynamic "cost_filter" {
    for_each = length(var.cost_filter_tags) > 0 ? [var.cost_filter_tags] : []
    content {
      name   = "TagKeyValue"
      values = [for k, v in cost_filter.value : format("user:%s$%s", k, v)]
    }
  }

  dynamic "notification" {
    for_each = local.notifications
    content {
      comparison_operator        = "GREATER_THAN"
      threshold                  = notification.value.threshold
      threshold_type             = "PERCENTAGE"
      notification_type          = notification.value.type
      subscriber_email_addresses = var.budget_alert_emails
      subscriber_sns_topic_arns  = [var.alert_topic_arn]
    }
  }

  tags = var.tags
}

# Cost anomaly detection on the environment's own spend (a custom monitor over its cost
# allocation tag), reported to the alert topic as each anomaly is found. Cost Explorer is
# served from us-east-1 whatever the provider's region.
resource "aws_ce_anomaly_monitor" "spend" {
  for_each = var.cost_filter_tags

  name         = "${var.name_prefix}-spend"
  monitor_type = "CUSTOM"
  # Every field of the expression, unused ones null: the provider reads the monitor back in
  # this shape, and any other (a missing key) is a diff that replaces the monitor, whose
  # learnt baseline then starts again from nothing.
  monitor_specification = jsonencode({
    And            = null
    CostCategories = null
    Dimensions     = null
    Not            = null
    Or             = null
    Tags = {
      Key          = each.key
      MatchOptions = null
      Values       = [each.value]
    }
  })
  tags = var.tags
}

resource "aws_ce_anomaly_subscription" "spend" {
  count = length(var.cost_filter_tags) > 0 ? 1 : 0

  name             = "${var.name_prefix}-spend-anomalies"
  frequency        = "IMMEDIATE"
  monitor_arn_list = [for m in aws_ce_anomaly_monitor.spend : m.arn]

  subscriber {
    type    = "SNS"
    address = var.alert_topic_arn
  }

  threshold_expression {
    dimension {
      key           = "ANOMALY_TOTAL_IMPACT_ABSOLUTE"
      match_options = ["GREATER_THAN_OR_EQUAL"]
      values        = [format("%.2f", var.anomaly_threshold_usd)]
    }
  }

  tags = var.tags
}

resource "aws_cloudwatch_metric_alarm" "s3_size" {
  alarm_name          = "${var.name_prefix}-s3-size-above-baseline"
  alarm_description   = "Bucket ${var.bucket_name} holds more than ${var.s3_size_baseline_bytes} bytes of standard storage."
  namespace           = "AWS/S3"
  metric_name         = "BucketSizeBytes"
  dimensions          = { BucketName = var.bucket_name, StorageType = "StandardStorage" }
  statistic           = "Maximum"
  period              = 86400
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.s3_size_baseline_bytes
  treat_missing_data  = "notBreaching"
  alarm_actions       = [var.alert_topic_arn]
  ok_actions          = [var.alert_topic_arn]
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "lambda_daily_duration" {
  for_each = var.lambda_functions

  alarm_name          = "${var.name_prefix}-${each.key}-daily-duration-above-baseline"
  alarm_description   = "${each.value.function_name} ran more than ${each.value.daily_duration_baseline_ms} ms in total over a day."
  namespace           = "AWS/Lambda"
  metric_name         = "Duration"
  dimensions          = { FunctionName = each.value.function_name }
  statistic           = "Sum"
  period              = 86400
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = each.value.daily_duration_baseline_ms
  treat_missing_data  = "notBreaching"
  alarm_actions       = [var.alert_topic_arn]
  ok_actions          = [var.alert_topic_arn]
  tags                = var.tags
}
