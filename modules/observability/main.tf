data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  region     = data.aws_region.current.region

  create_kms_key = var.kms_key_arn == null
  topic_kms_key  = local.create_kms_key ? aws_kms_key.alerts[0].arn : var.kms_key_arn
  alarm_actions  = [aws_sns_topic.alerts.arn]

  # Every service metric carries Environment; QuotaRemaining also carries Scope.
  service_dimensions = { Environment = var.environment }
  quota_dimensions   = { Environment = var.environment, Scope = "global_daily" }

  forward_logs = var.log_subscription_destination_arn != null
}

# --- Alert topic ---

data "aws_iam_policy_document" "alerts_key" {
  count = local.create_kms_key ? 1 : 0

  # In a key policy "*" means this key; the key's administrators are the account's
  # IAM principals that their own IAM policies allow. Actions are named one by one.
  statement {
    sid    = "AccountAdministersKey"
    effect = "Allow"
    actions = [
      "kms:CancelKeyDeletion",
      "kms:CreateAlias",
      "kms:DeleteAlias",
      "kms:DescribeKey",
      "kms:DisableKey",
      "kms:DisableKeyRotation",
      "kms:EnableKey",
      "kms:EnableKeyRotation",
      "kms:GetKeyPolicy",
      "kms:GetKeyRotationStatus",
      "kms:ListGrants",
      "kms:ListKeyPolicies",
      "kms:ListResourceTags",
      "kms:PutKeyPolicy",
      "kms:ScheduleKeyDeletion",
      "kms:TagResource",
      "kms:UntagResource",
      "kms:UpdateAlias",
      "kms:UpdateKeyDescription",
    ]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
  }

  # CloudWatch alarms, AWS Budgets and Cost Anomaly Detection publish to the encrypted topic.
  statement {
    sid       = "AlarmBudgetAndAnomalyPublishers"
    effect    = "Allow"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = ["*"]

    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com", "budgets.amazonaws.com", "costalerts.amazonaws.com"]
    }
  }

  # Account principals (e.g. an operator sending a test alert) may use the key only through SNS.
  statement {
    sid       = "AccountPublishersThroughSns"
    effect    = "Allow"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["sns.${local.region}.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "kms:CallerAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_kms_key" "alerts" {
  count = local.create_kms_key ? 1 : 0

  description             = "Encrypts the ${var.name_prefix} alert topic"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.alerts_key[0].json
  tags                    = var.tags
}

resource "aws_kms_alias" "alerts" {
  count = local.create_kms_key ? 1 : 0

  name          = "alias/${var.name_prefix}-alerts"
  target_key_id = aws_kms_key.alerts[0].key_id
}

resource "aws_sns_topic" "alerts" {
  name              = "${var.name_prefix}-alerts"
  kms_master_key_id = local.topic_kms_key
  tags              = var.tags
}

data "aws_iam_policy_document" "alerts_topic" {
  statement {
    sid       = "CloudWatchAlarmsPublish"
    effect    = "Allow"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.alerts.arn]

    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }

  statement {
    sid       = "BudgetsPublish"
    effect    = "Allow"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.alerts.arn]

    principals {
      type        = "Service"
      identifiers = ["budgets.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }

  statement {
    sid       = "CostAnomalyDetectionPublish"
    effect    = "Allow"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.alerts.arn]

    principals {
      type        = "Service"
      identifiers = ["costalerts.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }

  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.alerts.arn]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_sns_topic_policy" "alerts" {
  arn    = aws_sns_topic.alerts.arn
  policy = data.aws_iam_policy_document.alerts_topic.json
}

resource "aws_sns_topic_subscription" "email" {
  for_each = toset(var.alert_emails)

  topic_arn = aws_sns_topic.alerts.arn
  protocol  = "email"
  endpoint  = each.value
}

# --- Alarms ---

resource "aws_cloudwatch_metric_alarm" "api_5xx" {
  alarm_name          = "${var.name_prefix}-api-5xx"
  alarm_description   = "API Gateway answered more than ${var.api_5xx_threshold} 5XX responses in ${var.alarm_period_seconds} s."
  namespace           = "AWS/ApiGateway"
  metric_name         = "5XXError"
  dimensions          = { ApiName = var.api_name, Stage = var.api_stage_name }
  statistic           = "Sum"
  period              = var.alarm_period_seconds
  evaluation_periods  = var.alarm_evaluation_periods
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.api_5xx_threshold
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "lambda_errors" {
  for_each = var.lambda_functions

  alarm_name          = "${var.name_prefix}-${each.key}-errors"
  alarm_description   = "${each.value.function_name} failed more than ${each.value.errors_threshold} invocations in ${var.alarm_period_seconds} s."
  namespace           = "AWS/Lambda"
  metric_name         = "Errors"
  dimensions          = { FunctionName = each.value.function_name }
  statistic           = "Sum"
  period              = var.alarm_period_seconds
  evaluation_periods  = var.alarm_evaluation_periods
  comparison_operator = "GreaterThanThreshold"
  threshold           = each.value.errors_threshold
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "lambda_throttles" {
  for_each = var.lambda_functions

  alarm_name          = "${var.name_prefix}-${each.key}-throttles"
  alarm_description   = "${each.value.function_name} was throttled (reserved concurrency reached)."
  namespace           = "AWS/Lambda"
  metric_name         = "Throttles"
  dimensions          = { FunctionName = each.value.function_name }
  statistic           = "Sum"
  period              = var.alarm_period_seconds
  evaluation_periods  = var.alarm_evaluation_periods
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "lambda_duration_p95" {
  for_each = var.lambda_functions

  alarm_name          = "${var.name_prefix}-${each.key}-duration-p95"
  alarm_description   = "p95 duration of ${each.value.function_name} is above ${each.value.duration_p95_threshold_ms} ms."
  namespace           = "AWS/Lambda"
  metric_name         = "Duration"
  dimensions          = { FunctionName = each.value.function_name }
  extended_statistic  = "p95"
  period              = var.alarm_period_seconds
  evaluation_periods  = var.alarm_evaluation_periods
  comparison_operator = "GreaterThanThreshold"
  threshold           = each.value.duration_p95_threshold_ms
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = var.tags
}

# The janitor ends each dead-lettered job and leaves its message in the queue, hidden from its
# next reads: count hidden messages too, so the alarm stays until a person has looked and
# purged (or redriven) the queue.
resource "aws_cloudwatch_metric_alarm" "dlq_messages" {
  alarm_name          = "${var.name_prefix}-dlq-not-empty"
  alarm_description   = "Jobs landed in the dead-letter queue ${var.dlq_name} (the janitor ended them failed/delivery_exhausted and refunded them; inspect, then purge or redrive)."
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions

  metric_query {
    id          = "messages"
    expression  = "FILL(visible, 0) + FILL(hidden, 0)"
    label       = "Messages in the dead-letter queue"
    return_data = true
  }

  metric_query {
    id = "visible"

    metric {
      namespace   = "AWS/SQS"
      metric_name = "ApproximateNumberOfMessagesVisible"
      dimensions  = { QueueName = var.dlq_name }
      stat        = "Maximum"
      period      = var.alarm_period_seconds
    }
  }

  metric_query {
    id = "hidden"

    metric {
      namespace   = "AWS/SQS"
      metric_name = "ApproximateNumberOfMessagesNotVisible"
      dimensions  = { QueueName = var.dlq_name }
      stat        = "Maximum"
      period      = var.alarm_period_seconds
    }
  }

  tags = var.tags
}

# A webhook delivery that failed its last try (the worker dead-letters it) or a message the
# worker could not process (redriven after 5 receives). Nothing reads this queue, so its
# messages stay until a person has looked and purged (or redriven) it; hidden ones count too,
# as a look in the console hides them.
resource "aws_cloudwatch_metric_alarm" "webhook_dlq_messages" {
  alarm_name          = "${var.name_prefix}-webhook-dlq-not-empty"
  alarm_description   = "Webhook deliveries landed in the dead-letter queue ${var.webhook_dlq_name} (a receiver failed every try, or the worker could not read the message; inspect, then purge or redrive)."
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions

  metric_query {
    id          = "messages"
    expression  = "FILL(visible, 0) + FILL(hidden, 0)"
    label       = "Messages in the webhook dead-letter queue"
    return_data = true
  }

  metric_query {
    id = "visible"

    metric {
      namespace   = "AWS/SQS"
      metric_name = "ApproximateNumberOfMessagesVisible"
      dimensions  = { QueueName = var.webhook_dlq_name }
      stat        = "Maximum"
      period      = var.alarm_period_seconds
    }
  }

  metric_query {
    id = "hidden"

    metric {
      namespace   = "AWS/SQS"
      metric_name = "ApproximateNumberOfMessagesNotVisible"
      dimensions  = { QueueName = var.webhook_dlq_name }
      stat        = "Maximum"
      period      = var.alarm_period_seconds
    }
  }

  tags = var.tags
}

# Jobs the janitor had to end past their deadline: a stuck pipeline, not a bad prompt.
resource "aws_cloudwatch_metric_alarm" "jobs_overdue" {
  alarm_name          = "${var.name_prefix}-jobs-overdue"
  alarm_description   = "The janitor ended jobs still queued or running past their deadline (failed/deadline_exceeded, refunded)."
  namespace           = var.metrics_namespace
  metric_name         = "JobsOverdue"
  dimensions          = local.service_dimensions
  statistic           = "Sum"
  period              = var.alarm_period_seconds
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "queue_age" {
  alarm_name          = "${var.name_prefix}-queue-oldest-message-age"
  alarm_description   = "The oldest job in ${var.queue_name} has waited more than ${var.queue_age_threshold_seconds} s."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateAgeOfOldestMessage"
  dimensions          = { QueueName = var.queue_name }
  statistic           = "Maximum"
  period              = var.alarm_period_seconds
  evaluation_periods  = var.alarm_evaluation_periods
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.queue_age_threshold_seconds
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "quota_remaining" {
  alarm_name          = "${var.name_prefix}-gemini-quota-low"
  alarm_description   = "Fewer than ${var.quota_remaining_threshold} images are left in today's global Gemini budget."
  namespace           = var.metrics_namespace
  metric_name         = "QuotaRemaining"
  dimensions          = local.quota_dimensions
  statistic           = "Minimum"
  period              = var.alarm_period_seconds
  evaluation_periods  = 1
  comparison_operator = "LessThanThreshold"
  threshold           = var.quota_remaining_threshold
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "gemini_error_rate" {
  alarm_name          = "${var.name_prefix}-gemini-error-rate"
  alarm_description   = "More than ${var.gemini_error_rate_threshold_percent}% of Gemini requests failed."
  evaluation_periods  = var.alarm_evaluation_periods
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.gemini_error_rate_threshold_percent
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions

  metric_query {
    id          = "error_rate"
    expression  = "IF(requests > 0, 100 * FILL(errors, 0) / requests, 0)"
    label       = "Gemini error rate (%)"
    return_data = true
  }

  metric_query {
    id = "errors"

    metric {
      namespace   = var.metrics_namespace
      metric_name = "GeminiErrors"
      dimensions  = local.service_dimensions
      stat        = "Sum"
      period      = var.alarm_period_seconds
    }
  }

  metric_query {
    id = "requests"

    metric {
      namespace   = var.metrics_namespace
      metric_name = "GeminiRequests"
      dimensions  = local.service_dimensions
      stat        = "Sum"
      period      = var.alarm_period_seconds
    }
  }

  tags = var.tags
}

# --- Dashboard ---

locals {
  api_dims = ["ApiName", var.api_name, "Stage", var.api_stage_name]

  dashboard_widgets = [
    {
      type   = "metric"
      x      = 0
      y      = 0
      width  = 12
      height = 6
      properties = {
        title   = "Requests"
        region  = local.region
        view    = "timeSeries"
        stacked = false
        period  = 300
        stat    = "Sum"
        metrics = [
          concat(["AWS/ApiGateway", "Count"], local.api_dims),
        ]
      }
    },
    {
      type   = "metric"
      x      = 12
      y      = 0
      width  = 12
      height = 6
      properties = {
        title   = "Errors"
        region  = local.region
        view    = "timeSeries"
        stacked = false
        period  = 300
        stat    = "Sum"
        metrics = concat(
          [
            concat(["AWS/ApiGateway", "4XXError"], local.api_dims),
            concat(["AWS/ApiGateway", "5XXError"], local.api_dims),
            [var.metrics_namespace, "GeminiErrors", "Environment", var.environment],
          ],
          [for f in values(var.lambda_functions) : ["AWS/Lambda", "Errors", "FunctionName", f.function_name]],
        )
      }
    },
    {
      type   = "metric"
      x      = 0
      y      = 6
      width  = 12
      height = 6
      properties = {
        title   = "Latency p95 (ms)"
        region  = local.region
        view    = "timeSeries"
        stacked = false
        period  = 300
        stat    = "p95"
        metrics = concat(
          [
            concat(["AWS/ApiGateway", "Latency"], local.api_dims),
            concat(["AWS/ApiGateway", "IntegrationLatency"], local.api_dims),
          ],
          [for f in values(var.lambda_functions) : ["AWS/Lambda", "Duration", "FunctionName", f.function_name]],
        )
      }
    },
    {
      type   = "metric"
      x      = 12
      y      = 6
      width  = 12
      height = 6
      properties = {
        title   = "Queue depth"
        region  = local.region
        view    = "timeSeries"
        stacked = false
        period  = 300
        stat    = "Maximum"
        metrics = [
          ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", var.queue_name],
          ["AWS/SQS", "ApproximateNumberOfMessagesNotVisible", "QueueName", var.queue_name],
          ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", var.dlq_name],
          ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", var.webhook_queue_name],
          ["AWS/SQS", "ApproximateNumberOfMessagesNotVisible", "QueueName", var.webhook_queue_name],
          ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", var.webhook_dlq_name],
        ]
      }
    },
    {
      type   = "metric"
      x      = 0
      y      = 12
      width  = 12
      height = 6
      properties = {
        title   = "Global daily quota remaining"
        region  = local.region
        view    = "timeSeries"
        stacked = false
        period  = 300
        stat    = "Minimum"
        metrics = [
          [var.metrics_namespace, "QuotaRemaining", "Environment", var.environment, "Scope", "global_daily"],
        ]
        annotations = {
          horizontal = [{ label = "Alarm threshold", value = var.quota_remaining_threshold }]
        }
      }
    },
    {
      type   = "metric"
      x      = 12
      y      = 12
      width  = 12
      height = 6
      properties = {
        title   = "Images generated"
        region  = local.region
        view    = "timeSeries"
        stacked = false
        period  = 3600
        stat    = "Sum"
        metrics = [
          [var.metrics_namespace, "ImagesGenerated", "Environment", var.environment],
        ]
      }
    },
  ]
}

resource "aws_cloudwatch_dashboard" "this" {
  dashboard_name = var.name_prefix
  dashboard_body = jsonencode({ widgets = local.dashboard_widgets })
}

# --- Optional log forwarding ---

resource "aws_cloudwatch_log_subscription_filter" "forward" {
  for_each = local.forward_logs ? toset(var.log_subscription_log_group_names) : toset([])

  name            = "${var.name_prefix}-forward"
  log_group_name  = each.value
  filter_pattern  = var.log_subscription_filter_pattern
  destination_arn = var.log_subscription_destination_arn
  role_arn        = var.log_subscription_role_arn
}
