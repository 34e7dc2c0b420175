output "alert_topic_arn" {
  description = "ARN of the SNS topic that receives every alarm (and budget) notification."
  value       = aws_sns_topic.alerts.arn
}

output "alert_topic_kms_key_arn" {
  description = "ARN of the KMS key that encrypts the alert topic."
  value       = local.topic_kms_key
}

output "dashboard_name" {
  description = "Name of the CloudWatch dashboard."
  value       = aws_cloudwatch_dashboard.this.dashboard_name
}

output "alarm_arns" {
  description = "ARNs of every alarm of the module, by alarm name."
  value = merge(
    {
      (aws_cloudwatch_metric_alarm.api_5xx.alarm_name)              = aws_cloudwatch_metric_alarm.api_5xx.arn
      (aws_cloudwatch_metric_alarm.dlq_messages.alarm_name)         = aws_cloudwatch_metric_alarm.dlq_messages.arn
      (aws_cloudwatch_metric_alarm.webhook_dlq_messages.alarm_name) = aws_cloudwatch_metric_alarm.webhook_dlq_messages.arn
      (aws_cloudwatch_metric_alarm.queue_age.alarm_name)            = aws_cloudwatch_metric_alarm.queue_age.arn
      (aws_cloudwatch_metric_alarm.quota_remaining.alarm_name)      = aws_cloudwatch_metric_alarm.quota_remaining.arn
      (aws_cloudwatch_metric_alarm.gemini_error_rate.alarm_name)    = aws_cloudwatch_metric_alarm.gemini_error_rate.arn
    },
    { for a in aws_cloudwatch_metric_alarm.lambda_errors : a.alarm_name => a.arn },
    { for a in aws_cloudwatch_metric_alarm.lambda_throttles : a.alarm_name => a.arn },
    { for a in aws_cloudwatch_metric_alarm.lambda_duration_p95 : a.alarm_name => a.arn },
  )
}
