output "table_names" {
  description = "Table names by logical name (jobs, api_keys, counters, idempotency, webhooks)."
  value = {
    jobs        = aws_dynamodb_table.jobs.name
    api_keys    = aws_dynamodb_table.api_keys.name
    counters    = aws_dynamodb_table.counters.name
    idempotency = aws_dynamodb_table.idempotency.name
    webhooks    = aws_dynamodb_table.webhooks.name
  }
}

output "table_arns" {
  description = "Table ARNs by logical name (jobs, api_keys, counters, idempotency, webhooks)."
  value = {
    jobs        = aws_dynamodb_table.jobs.arn
    api_keys    = aws_dynamodb_table.api_keys.arn
    counters    = aws_dynamodb_table.counters.arn
    idempotency = aws_dynamodb_table.idempotency.arn
    webhooks    = aws_dynamodb_table.webhooks.arn
  }
}

output "jobs_table_name" {
  description = "Name of the jobs table."
  value       = aws_dynamodb_table.jobs.name
}

output "jobs_table_arn" {
  description = "ARN of the jobs table."
  value       = aws_dynamodb_table.jobs.arn
}

output "api_keys_table_name" {
  description = "Name of the API keys table."
  value       = aws_dynamodb_table.api_keys.name
}

output "api_keys_table_arn" {
  description = "ARN of the API keys table."
  value       = aws_dynamodb_table.api_keys.arn
}

output "counters_table_name" {
  description = "Name of the counters table (rate-limit buckets and quota counters)."
  value       = aws_dynamodb_table.counters.name
}

output "counters_table_arn" {
  description = "ARN of the counters table."
  value       = aws_dynamodb_table.counters.arn
}

output "idempotency_table_name" {
  description = "Name of the idempotency table."
  value       = aws_dynamodb_table.idempotency.name
}

output "idempotency_table_arn" {
  description = "ARN of the idempotency table."
  value       = aws_dynamodb_table.idempotency.arn
}

output "webhooks_table_name" {
  description = "Name of the webhooks table (signing secrets and delivery attempts)."
  value       = aws_dynamodb_table.webhooks.name
}

output "webhooks_table_arn" {
  description = "ARN of the webhooks table."
  value       = aws_dynamodb_table.webhooks.arn
}

output "jobs_index_arn" {
  description = "ARN pattern of the jobs table's indexes (`<table_arn>/index/*`), for IAM."
  value       = "${aws_dynamodb_table.jobs.arn}/index/*"
}

output "api_keys_index_arn" {
  description = "ARN pattern of the API keys table's indexes (`<table_arn>/index/*`), for IAM."
  value       = "${aws_dynamodb_table.api_keys.arn}/index/*"
}

output "index_arns" {
  description = "ARN patterns of every table index (`<table_arn>/index/*`), for IAM."
  value = [
    "${aws_dynamodb_table.jobs.arn}/index/*",
    "${aws_dynamodb_table.api_keys.arn}/index/*",
  ]
}
