# Every output of the stack, under the same name: `cargo xtask` reads them (`terraform output -json`).

output "api_url" {
  description = "Base URL of the API (the custom domain when enabled, else the execute-api stage URL)."
  value       = module.stack.api_url
}

output "invoke_url" {
  description = "execute-api URL of the stage."
  value       = module.stack.invoke_url
}

output "rest_api_id" {
  description = "ID of the REST API."
  value       = module.stack.rest_api_id
}

output "usage_plan_ids" {
  description = "API Gateway usage plan IDs by plan name (for attaching client keys)."
  value       = module.stack.usage_plan_ids
}

output "api_function_name" {
  description = "Name of the API Lambda function."
  value       = module.stack.api_function_name
}

output "worker_function_name" {
  description = "Name of the worker Lambda function."
  value       = module.stack.worker_function_name
}

output "bucket_name" {
  description = "Name of the image bucket."
  value       = module.stack.bucket_name
}

output "download_domain_name" {
  description = "Domain name of the CloudFront distribution that serves generated images (download URLs are https://<it>/generated/...)."
  value       = module.stack.download_domain_name
}

output "download_signing_key_secret_arn" {
  description = "ARN of the secret holding the download signing key (written by Terraform; rotate with `terraform apply -replace=module.downloads.tls_private_key.signing`)."
  value       = module.stack.download_signing_key_secret_arn
}

output "table_names" {
  description = "DynamoDB table names by logical name."
  value       = module.stack.table_names
}

output "queue_url" {
  description = "URL of the jobs queue."
  value       = module.stack.queue_url
}

output "dlq_url" {
  description = "URL of the jobs dead-letter queue."
  value       = module.stack.dlq_url
}

output "webhook_queue_url" {
  description = "URL of the webhook queue."
  value       = module.stack.webhook_queue_url
}

output "webhook_dlq_url" {
  description = "URL of the webhook dead-letter queue (deliveries that failed their last try)."
  value       = module.stack.webhook_dlq_url
}

output "gemini_secret_arn" {
  description = "ARN of the Gemini API key secret (`cargo xtask secrets set-gemini-key` writes its value)."
  value       = module.stack.gemini_secret_arn
}

output "alert_topic_arn" {
  description = "ARN of the alert SNS topic."
  value       = module.stack.alert_topic_arn
}

output "dashboard_name" {
  description = "Name of the CloudWatch dashboard."
  value       = module.stack.dashboard_name
}
