output "queue_url" {
  description = "URL of the jobs queue."
  value       = aws_sqs_queue.jobs.url
}

output "queue_arn" {
  description = "ARN of the jobs queue."
  value       = aws_sqs_queue.jobs.arn
}

output "queue_name" {
  description = "Name of the jobs queue."
  value       = aws_sqs_queue.jobs.name
}

output "dlq_url" {
  description = "URL of the jobs dead-letter queue."
  value       = aws_sqs_queue.dlq.url
}

output "dlq_arn" {
  description = "ARN of the jobs dead-letter queue."
  value       = aws_sqs_queue.dlq.arn
}

output "dlq_name" {
  description = "Name of the jobs dead-letter queue."
  value       = aws_sqs_queue.dlq.name
}

output "event_source_mapping_uuid" {
  description = "UUID of the event source mapping from the jobs queue to the worker."
  value       = aws_lambda_event_source_mapping.worker.uuid
}

output "webhook_queue_url" {
  description = "URL of the webhook queue (the functions read it as IMAGEGEN_WEBHOOK_QUEUE_URL)."
  value       = aws_sqs_queue.webhooks.url
}

output "webhook_queue_arn" {
  description = "ARN of the webhook queue."
  value       = aws_sqs_queue.webhooks.arn
}

output "webhook_queue_name" {
  description = "Name of the webhook queue."
  value       = aws_sqs_queue.webhooks.name
}

output "webhook_dlq_url" {
  description = "URL of the webhook dead-letter queue (the worker reads it as IMAGEGEN_WEBHOOK_DEAD_LETTER_QUEUE_URL)."
  value       = aws_sqs_queue.webhooks_dlq.url
}

output "webhook_dlq_arn" {
  description = "ARN of the webhook dead-letter queue."
  value       = aws_sqs_queue.webhooks_dlq.arn
}

output "webhook_dlq_name" {
  description = "Name of the webhook dead-letter queue."
  value       = aws_sqs_queue.webhooks_dlq.name
}

output "webhook_event_source_mapping_uuid" {
  description = "UUID of the event source mapping from the webhook queue to the worker."
  value       = aws_lambda_event_source_mapping.webhooks.uuid
}

output "visibility_timeout_seconds" {
  description = "Visibility timeout of the jobs queue (six times the worker timeout plus the batching window); the functions read it as IMAGEGEN_QUEUE_VISIBILITY_SECONDS."
  value       = aws_sqs_queue.jobs.visibility_timeout_seconds
}

output "janitor_rule_arn" {
  description = "ARN of the EventBridge rule that runs the janitor."
  value       = aws_cloudwatch_event_rule.janitor.arn
}
