variable "name_prefix" {
  description = "Prefix of the budget and alarm names, e.g. imagegen-staging."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{3,64}$", var.name_prefix))
    error_message = "name_prefix must be 3-64 letters, digits, hyphens or underscores."
  }
}

variable "monthly_budget_usd" {
  description = "Monthly cost budget in USD."
  type        = number

  validation {
    condition     = var.monthly_budget_usd > 0
    error_message = "monthly_budget_usd must be > 0."
  }
}

variable "budget_alert_emails" {
  description = "Email addresses notified directly by AWS Budgets (besides the SNS topic)."
  type        = list(string)
  default     = []

  validation {
    condition     = length(var.budget_alert_emails) <= 10 && alltrue([for e in var.budget_alert_emails : can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", e))])
    error_message = "budget_alert_emails must hold at most 10 email addresses."
  }
}

variable "alert_topic_arn" {
  description = "ARN of the SNS topic that receives budget notifications and the baseline alarms. Its policy (and key policy, if encrypted) must allow budgets.amazonaws.com and cloudwatch.amazonaws.com to publish; the observability module's topic does."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:sns:", var.alert_topic_arn))
    error_message = "alert_topic_arn must be an SNS topic ARN."
  }
}

variable "cost_filter_tags" {
  description = "Restrict the budget, and scope the anomaly monitor, to costs carrying these tags (key => value). Each key must be activated as a cost allocation tag in Billing, otherwise neither sees any cost. Empty: the budget covers the whole account and there is no anomaly monitor (an account has one AWS-services monitor, which is not this module's)."
  type        = map(string)
  default     = {}

  validation {
    condition     = length(var.cost_filter_tags) <= 1
    error_message = "cost_filter_tags takes at most one tag: a custom anomaly monitor watches one tag key."
  }
}

variable "anomaly_threshold_usd" {
  description = "Total impact (USD) at which a cost anomaly of the environment's spend is reported to the alert topic. Needs cost_filter_tags: the monitor watches the spend those tags select."
  type        = number
  default     = 10

  validation {
    condition     = var.anomaly_threshold_usd > 0
    error_message = "anomaly_threshold_usd must be above 0."
  }
}

variable "bucket_name" {
  description = "Name of the image bucket whose size is watched."
  type        = string
}

variable "s3_size_baseline_bytes" {
  description = "Standard-storage size of the image bucket in bytes above which an alarm fires."
  type        = number

  validation {
    condition     = var.s3_size_baseline_bytes > 0
    error_message = "s3_size_baseline_bytes must be > 0."
  }
}

variable "lambda_functions" {
  description = "Functions whose total daily duration is watched, by short name: function name and the daily sum of Duration (milliseconds) above which an alarm fires."
  type = map(object({
    function_name              = string
    daily_duration_baseline_ms = number
  }))
  default = {}

  validation {
    condition     = alltrue([for f in values(var.lambda_functions) : f.daily_duration_baseline_ms > 0])
    error_message = "daily_duration_baseline_ms must be > 0."
  }
}

variable "tags" {
  description = "Tags added to every resource of the module (on top of the provider's default_tags)."
  type        = map(string)
  default     = {}
}
