locals {
  # AWS: set the source queue's visibility timeout to at least six times the function
  # timeout plus the batching window, so retries of a throttled batch do not redeliver
  # messages that are still being processed.
  visibility_timeout_seconds = 6 * var.worker_timeout_seconds + var.maximum_batching_window_in_seconds

  # The same rule for the webhook queue, whose mapping does not wait to fill a batch.
  webhook_visibility_timeout_seconds = 6 * var.worker_timeout_seconds

  # Only messages the worker cannot process reach the webhook DLQ this way: it retries a failed
  # delivery itself (a new message with a delay) and dead-letters its last try itself.
  webhook_max_receive_count = 5

  # Either SSE-SQS or SSE-KMS; the two arguments conflict, so the unused one stays null.
  sqs_managed_sse_enabled = var.kms_key_arn == null ? true : null
}

resource "aws_sqs_queue" "dlq" {
  name                      = "${var.name}-dlq"
  message_retention_seconds = 1209600 # 14 days, the SQS maximum, to leave time to inspect and redrive
  sqs_managed_sse_enabled   = local.sqs_managed_sse_enabled
  kms_master_key_id         = var.kms_key_arn
  tags                      = var.tags
}

resource "aws_sqs_queue" "jobs" {
  name                       = var.name
  visibility_timeout_seconds = local.visibility_timeout_seconds
  message_retention_seconds  = var.message_retention_seconds
  receive_wait_time_seconds  = 20
  sqs_managed_sse_enabled    = local.sqs_managed_sse_enabled
  kms_master_key_id          = var.kms_key_arn

  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.dlq.arn
    maxReceiveCount     = var.max_receive_count
  })

  tags = var.tags
}

# Only the jobs queue may use the DLQ (a separate resource avoids a dependency cycle).
resource "aws_sqs_queue_redrive_allow_policy" "dlq" {
  queue_url = aws_sqs_queue.dlq.id

  redrive_allow_policy = jsonencode({
    redrivePermission = "byQueue"
    sourceQueueArns   = [aws_sqs_queue.jobs.arn]
  })
}

resource "aws_lambda_event_source_mapping" "worker" {
  event_source_arn                   = aws_sqs_queue.jobs.arn
  function_name                      = var.worker_function_arn
  enabled                            = true
  batch_size                         = var.batch_size
  maximum_batching_window_in_seconds = var.maximum_batching_window_in_seconds
  function_response_types            = ["ReportBatchItemFailures"]

  scaling_config {
    maximum_concurrency = var.maximum_concurrency
  }

  tags = var.tags
}

# --- Webhook deliveries ---

resource "aws_sqs_queue" "webhooks_dlq" {
  name                      = "${var.name}-webhooks-dlq"
  message_retention_seconds = 1209600 # 14 days, the SQS maximum, to leave time to inspect and redrive
  sqs_managed_sse_enabled   = local.sqs_managed_sse_enabled
  kms_master_key_id         = var.kms_key_arn
  tags                      = var.tags
}

resource "aws_sqs_queue" "webhooks" {
  name                       = "${var.name}-webhooks"
  visibility_timeout_seconds = local.webhook_visibility_timeout_seconds
  message_retention_seconds  = var.message_retention_seconds
  receive_wait_time_seconds  = 20
  sqs_managed_sse_enabled    = local.sqs_managed_sse_enabled
  kms_master_key_id          = var.kms_key_arn

  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.webhooks_dlq.arn
    maxReceiveCount     = local.webhook_max_receive_count
  })

  tags = var.tags
}

# Only the webhook queue may redrive into the webhook DLQ (the worker's own sends to it are not
# redrives).
resource "aws_sqs_queue_redrive_allow_policy" "webhooks_dlq" {
  queue_url = aws_sqs_queue.webhooks_dlq.id

  redrive_allow_policy = jsonencode({
    redrivePermission = "byQueue"
    sourceQueueArns   = [aws_sqs_queue.webhooks.arn]
  })
}

# The same worker alias delivers webhooks; a small cap keeps deliveries from taking the
# concurrency that jobs need. Each message is one delivery, reported on its own.
resource "aws_lambda_event_source_mapping" "webhooks" {
  event_source_arn                   = aws_sqs_queue.webhooks.arn
  function_name                      = var.worker_function_arn
  enabled                            = true
  batch_size                         = 10
  maximum_batching_window_in_seconds = 0
  function_response_types            = ["ReportBatchItemFailures"]

  scaling_config {
    maximum_concurrency = var.webhook_maximum_concurrency
  }

  tags = var.tags
}

# The janitor: every few minutes the worker ends jobs whose message was dead-lettered or that are
# past their deadline (lambda/src/worker/janitor.rs).
resource "aws_cloudwatch_event_rule" "janitor" {
  name                = "${var.name}-janitor"
  description         = "Runs the imagegen janitor in the worker function."
  schedule_expression = var.janitor_schedule_expression
  tags                = var.tags
}

resource "aws_cloudwatch_event_target" "janitor" {
  rule  = aws_cloudwatch_event_rule.janitor.name
  arn   = var.worker_function_arn
  input = jsonencode({ imagegen = "janitor" })
}

resource "aws_lambda_permission" "janitor" {
  statement_id  = "AllowJanitorSchedule"
  action        = "lambda:InvokeFunction"
  function_name = var.worker_function_name
  qualifier     = var.worker_alias_name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.janitor.arn
}
