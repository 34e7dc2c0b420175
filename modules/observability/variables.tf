variable "name_prefix" {
  description = "Prefix of the topic, alarm and dashboard names, e.g. imagegen-staging."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{3,64}$", var.name_prefix))
    error_message = "name_prefix must be 3-64 letters, digits, hyphens or underscores."
  }
}

variable "environment" {
  description = "Environment name; the value of the Environment dimension on every service metric."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9-]{1,32}$", var.environment))
    error_message = "environment must be 1-32 lowercase letters, digits or hyphens."
  }
}

variable "alert_emails" {
  description = "Email addresses subscribed to the alert topic (each must confirm the subscription)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for e in var.alert_emails : can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", e))])
    error_message = "Each alert email must be an email address."
  }
}

variable "kms_key_arn" {
  description = "ARN of a customer managed KMS key for the alert topic. null creates one: the AWS managed alias/aws/sns key cannot be used because CloudWatch alarms and AWS Budgets are not allowed to use it."
  type        = string
  default     = null

  validation {
    condition     = var.kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:", var.kms_key_arn))
    error_message = "kms_key_arn must be null or a KMS key ARN."
  }
}

variable "api_name" {
  description = "Name of the REST API (ApiName dimension)."
  type        = string
}

variable "api_stage_name" {
  description = "Name of the REST API stage (Stage dimension)."
  type        = string
}

variable "api_5xx_threshold" {
  description = "API Gateway 5XX responses per alarm period above which the 5xx alarm fires."
  type        = number
  default     = 5

  validation {
    condition     = var.api_5xx_threshold >= 0
    error_message = "api_5xx_threshold must be >= 0."
  }
}

variable "lambda_functions" {
  description = "Functions to alarm on, by short name: function name, p95 duration threshold in milliseconds, and errors per period above which the errors alarm fires."
  type = map(object({
    function_name             = string
    duration_p95_threshold_ms = number
    errors_threshold          = optional(number, 0)
  }))
  default = {}

  validation {
    condition     = alltrue([for f in values(var.lambda_functions) : f.duration_p95_threshold_ms > 0 && f.errors_threshold >= 0])
    error_message = "duration_p95_threshold_ms must be > 0 and errors_threshold >= 0."
  }
}

variable "queue_name" {
  description = "Name of the jobs queue."
  type        = string
}

variable "dlq_name" {
  description = "Name of the dead-letter queue; any visible message fires an alarm."
  type        = string
}

variable "webhook_queue_name" {
  description = "Name of the webhook queue (shown on the dashboard)."
  type        = string
}

variable "webhook_dlq_name" {
  description = "Name of the webhook dead-letter queue; any message in it fires an alarm."
  type        = string
}

variable "queue_age_threshold_seconds" {
  description = "Age in seconds of the oldest message in the jobs queue above which an alarm fires."
  type        = number
  default     = 900

  validation {
    condition     = var.queue_age_threshold_seconds >= 60
    error_message = "queue_age_threshold_seconds must be >= 60."
  }
}

variable "metrics_namespace" {
  description = "CloudWatch namespace of the service's EMF metrics."
  type        = string
  default     = "Imagegen"

  validation {
    condition     = length(var.metrics_namespace) > 0 && !startswith(var.metrics_namespace, "AWS/")
    error_message = "metrics_namespace must be non-empty and must not start with AWS/."
  }
}

variable "quota_remaining_threshold" {
  description = "Images left in the global daily Gemini budget (QuotaRemaining, Scope=global_daily) below which an alarm fires."
  type        = number

  validation {
    condition     = var.quota_remaining_threshold >= 0
    error_message = "quota_remaining_threshold must be >= 0."
  }
}

variable "gemini_error_rate_threshold_percent" {
  description = "Percentage of failed Gemini requests (GeminiErrors / GeminiRequests) above which an alarm fires."
  type        = number
  default     = 10

  validation {
    condition     = var.gemini_error_rate_threshold_percent > 0 && var.gemini_error_rate_threshold_percent <= 100
    error_message = "gemini_error_rate_threshold_percent must be in (0, 100]."
  }
}

variable "alarm_period_seconds" {
  description = "Period of the alarms in seconds (a multiple of 60)."
  type        = number
  default     = 300

  validation {
    condition     = var.alarm_period_seconds >= 60 && var.alarm_period_seconds % 60 == 0
    error_message = "alarm_period_seconds must be a multiple of 60."
  }
}

variable "alarm_evaluation_periods" {
  description = "Consecutive breaching periods before an alarm fires."
  type        = number
  default     = 1

  validation {
    condition     = var.alarm_evaluation_periods >= 1 && floor(var.alarm_evaluation_periods) == var.alarm_evaluation_periods
    error_message = "alarm_evaluation_periods must be a whole number >= 1."
  }
}

variable "log_subscription_log_group_names" {
  description = "Log groups whose events are forwarded to log_subscription_destination_arn."
  type        = list(string)
  default     = []
}

variable "log_subscription_destination_arn" {
  description = "ARN of a Kinesis stream, Firehose stream, Lambda function or log destination that receives the forwarded logs. null: no forwarding."
  type        = string
  default     = null

  validation {
    condition     = var.log_subscription_destination_arn == null || can(regex("^arn:aws[a-z-]*:", var.log_subscription_destination_arn))
    error_message = "log_subscription_destination_arn must be null or an ARN."
  }
}

variable "log_subscription_role_arn" {
  description = "IAM role CloudWatch Logs assumes to deliver to a Kinesis or Firehose destination. null for Lambda and cross-account log destinations."
  type        = string
  default     = null

  validation {
    condition     = var.log_subscription_role_arn == null || can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:role/", var.log_subscription_role_arn))
    error_message = "log_subscription_role_arn must be null or an IAM role ARN."
  }
}

variable "log_subscription_filter_pattern" {
  description = "Filter pattern of the log subscriptions; empty forwards every event."
  type        = string
  default     = ""
}

variable "tags" {
  description = "Tags added to every resource of the module (on top of the provider's default_tags)."
  type        = map(string)
  default     = {}
}
