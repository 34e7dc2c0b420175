output "rest_api_id" {
  description = "ID of the REST API."
  value       = aws_api_gateway_rest_api.this.id
}

output "rest_api_name" {
  description = "Name of the REST API (the ApiName dimension of its CloudWatch metrics)."
  value       = aws_api_gateway_rest_api.this.name
}

output "stage_name" {
  description = "Name of the deployment stage."
  value       = aws_api_gateway_stage.this.stage_name
}

output "invoke_url" {
  description = "Default execute-api URL of the stage."
  value       = aws_api_gateway_stage.this.invoke_url
}

output "execution_arn" {
  description = "Execution ARN of the REST API (for Lambda permissions)."
  value       = aws_api_gateway_rest_api.this.execution_arn
}

output "stage_arn" {
  description = "ARN of the stage (for WAF associations)."
  value       = aws_api_gateway_stage.this.arn
}

output "access_log_group_name" {
  description = "Name of the stage's access log group."
  value       = aws_cloudwatch_log_group.access.name
}

output "usage_plan_ids" {
  description = "Usage plan IDs by plan name."
  value       = { for k, p in aws_api_gateway_usage_plan.this : k => p.id }
}

output "api_key_ids" {
  description = "API key IDs by client name."
  value       = { for k, key in aws_api_gateway_api_key.this : k => key.id }
}

output "api_key_values" {
  description = "API key values by client name."
  value       = { for k, key in aws_api_gateway_api_key.this : k => key.value }
  sensitive   = true
}

output "web_acl_arn" {
  description = "ARN of the WAF web ACL, or null when WAF is disabled."
  value       = one(aws_wafv2_web_acl.this[*].arn)
}
