output "budget_name" {
  description = "Name of the monthly cost budget."
  value       = aws_budgets_budget.monthly.name
}

output "budget_arn" {
  description = "ARN of the monthly cost budget."
  value       = aws_budgets_budget.monthly.arn
}

output "s3_size_alarm_arn" {
  description = "ARN of the bucket size baseline alarm."
  value       = aws_cloudwatch_metric_alarm.s3_size.arn
}

output "lambda_duration_alarm_arns" {
  description = "ARNs of the daily Lambda duration baseline alarms, by short function name."
  value       = { for k, a in aws_cloudwatch_metric_alarm.lambda_daily_duration : k => a.arn }
}

output "anomaly_monitor_arn" {
  description = "ARN of the environment's cost anomaly monitor; null without cost_filter_tags."
  value       = one([for m in aws_ce_anomaly_monitor.spend : m.arn])
}
