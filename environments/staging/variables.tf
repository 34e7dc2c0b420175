# Identical in every environment root; environments differ only in terraform.tfvars and backend.tf.

# --- Environment ---

variable "environment" {
  description = "Environment name (staging or prod); names every resource `<project>-<environment>-*`."
  type        = string

  validation {
    condition     = contains(["staging", "prod"], var.environment)
    error_message = "environment must be staging or prod."
  }
}

variable "aws_region" {
  description = "Region of the deployment; must match the bootstrap region (the artifact bucket is read by Lambda)."
  type        = string

  validation {
    condition     = can(regex("^[a-z]{2}(-gov)?-[a-z]+-[0-9]$", var.aws_region))
    error_message = "aws_region must be an AWS region name such as eu-west-1."
  }
}

# --- Lambda artifacts (passed by `cargo xtask deploy`) ---

variable "artifact_bucket" {
  description = "Bucket holding the Lambda zips. null uses the bootstrap convention `imagegen-artifacts-<account id>`."
  type        = string
  default     = null
}

variable "api_artifact_key" {
  description = "S3 key of the API zip, `lambda/<sha256hex>.zip`."
  type        = string

  validation {
    condition     = can(regex("^lambda/[0-9a-f]{64}\\.zip$", var.api_artifact_key))
    error_message = "api_artifact_key must look like lambda/<64 hex characters>.zip."
  }
}

variable "api_artifact_sha256" {
  description = "filebase64sha256 of the API zip."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9+/]{43}=$", var.api_artifact_sha256))
    error_message = "api_artifact_sha256 must be a base64-encoded SHA-256 (filebase64sha256 output)."
  }
}

variable "worker_artifact_key" {
  description = "S3 key of the worker zip, `lambda/<sha256hex>.zip`."
  type        = string

  validation {
    condition     = can(regex("^lambda/[0-9a-f]{64}\\.zip$", var.worker_artifact_key))
    error_message = "worker_artifact_key must look like lambda/<64 hex characters>.zip."
  }
}

variable "worker_artifact_sha256" {
  description = "filebase64sha256 of the worker zip."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9+/]{43}=$", var.worker_artifact_sha256))
    error_message = "worker_artifact_sha256 must be a base64-encoded SHA-256 (filebase64sha256 output)."
  }
}

variable "lambda_architecture" {
  description = "Instruction set of both functions (x86_64 or arm64); must match the build target."
  type        = string
  default     = "x86_64"

  validation {
    condition     = contains(["x86_64", "arm64"], var.lambda_architecture)
    error_message = "lambda_architecture must be x86_64 or arm64."
  }
}

# --- Lambda sizing ---

variable "api_memory_mb" {
  description = "Memory of the API function in MB."
  type        = number
}

variable "api_timeout_seconds" {
  description = "Timeout of the API function in seconds: below API Gateway's 29 s, so the function ends (and logs why) before the gateway answers 504, and above the longest `Prefer: wait` (25 s)."
  type        = number

  validation {
    condition     = var.api_timeout_seconds > 25 && var.api_timeout_seconds < 29 && floor(var.api_timeout_seconds) == var.api_timeout_seconds
    error_message = "api_timeout_seconds must be 26, 27 or 28: below API Gateway's 29 s integration timeout and above the longest Prefer: wait (25 s)."
  }
}

variable "api_reserved_concurrency" {
  description = "Reserved concurrency of the API function."
  type        = number
}

variable "worker_memory_mb" {
  description = "Memory of the worker function in MB."
  type        = number
}

variable "worker_timeout_seconds" {
  description = "Timeout of the worker function in seconds; also sets the queue's visibility timeout and the job lease (IMAGEGEN_WORKER_LEASE_SECONDS)."
  type        = number
}

variable "worker_reserved_concurrency" {
  description = "Reserved concurrency of the worker function: more than worker_max_concurrency, since the janitor's schedule runs in it too."
  type        = number

  validation {
    condition     = var.worker_reserved_concurrency > var.worker_max_concurrency
    error_message = "worker_reserved_concurrency must be > worker_max_concurrency: the event source mapping may use all of the latter, and the janitor needs one more."
  }
}

variable "log_retention_days" {
  description = "Retention in days of every log group of the environment."
  type        = number
}

variable "application_log_level" {
  description = "Application log level of both functions (AWS_LAMBDA_LOG_LEVEL)."
  type        = string
  default     = "INFO"
}

# --- Service configuration (IMAGEGEN_* environment variables) ---

variable "gemini_model" {
  description = "Gemini model that generates images (IMAGEGEN_GEMINI_MODEL)."
  type        = string
}

variable "gemini_timeout_seconds" {
  description = "Per-call Gemini timeout, connect to last byte (IMAGEGEN_GEMINI_TIMEOUT_SECONDS); must leave room within worker_timeout_seconds."
  type        = number

  validation {
    condition     = var.gemini_timeout_seconds >= 1 && var.gemini_timeout_seconds <= 600 && floor(var.gemini_timeout_seconds) == var.gemini_timeout_seconds
    error_message = "gemini_timeout_seconds must be a whole number between 1 and 600."
  }

  # A call must fit in one worker invocation (the worker checks the same at start-up).
  validation {
    condition     = var.gemini_timeout_seconds <= max(var.worker_timeout_seconds - 15, floor(var.worker_timeout_seconds / 2))
    error_message = "gemini_timeout_seconds must leave 15 s of worker_timeout_seconds (or half of it) for storing the image."
  }
}

variable "gemini_max_attempts" {
  description = "Gemini calls one image may cost in total, across every delivery of its job (IMAGEGEN_GEMINI_MAX_ATTEMPTS)."
  type        = number

  validation {
    condition     = var.gemini_max_attempts >= 1 && var.gemini_max_attempts <= 10 && floor(var.gemini_max_attempts) == var.gemini_max_attempts
    error_message = "gemini_max_attempts must be a whole number between 1 and 10."
  }
}

variable "url_ttl_seconds" {
  description = "Lifetime of signed download and upload URLs (IMAGEGEN_URL_TTL_SECONDS)."
  type        = number

  validation {
    condition     = var.url_ttl_seconds >= 60 && var.url_ttl_seconds <= 43200
    error_message = "url_ttl_seconds must be between 60 and 43200 (the Lambda role's session bounds presigned URLs)."
  }
}

variable "default_rate_per_minute" {
  description = "Default per-key requests per minute (IMAGEGEN_DEFAULT_RATE_PER_MINUTE)."
  type        = number
}

variable "default_burst" {
  description = "Default per-key burst (IMAGEGEN_DEFAULT_BURST)."
  type        = number
}

variable "default_daily_quota" {
  description = "Default per-tenant images per day (IMAGEGEN_DEFAULT_DAILY_QUOTA)."
  type        = number
}

variable "default_monthly_quota" {
  description = "Default per-tenant images per month (IMAGEGEN_DEFAULT_MONTHLY_QUOTA)."
  type        = number
}

variable "ip_rate_per_minute" {
  description = "Requests per minute per source IP (IMAGEGEN_IP_RATE_PER_MINUTE)."
  type        = number
}

variable "global_rate_per_minute" {
  description = "Requests per minute across all callers (IMAGEGEN_GLOBAL_RATE_PER_MINUTE)."
  type        = number
}

variable "global_daily_images" {
  description = "Global daily Gemini image budget (IMAGEGEN_GLOBAL_DAILY_IMAGES)."
  type        = number
}

# --- Data ---

variable "deletion_protection_enabled" {
  description = "Whether the DynamoDB tables are protected against deletion."
  type        = bool
}

variable "point_in_time_recovery_enabled" {
  description = "Whether the DynamoDB tables have point-in-time recovery."
  type        = bool
}

variable "bucket_force_destroy" {
  description = "Whether destroying the environment may delete a non-empty image bucket."
  type        = bool
  default     = false
}

variable "generated_expiration_days" {
  description = "Days generated images are kept."
  type        = number
}

variable "uploads_expiration_days" {
  description = "Days reference uploads are kept."
  type        = number
}

variable "cors_allowed_origins" {
  description = "Browser origins allowed to use signed URLs."
  type        = list(string)
  default     = []
}

variable "s3_access_logging_enabled" {
  description = "Whether the image bucket's server access logs go to the bootstrap access-log bucket."
  type        = bool
  default     = true
}

variable "access_log_bucket" {
  description = "Access-log bucket. null uses the bootstrap convention `imagegen-access-logs-<account id>`."
  type        = string
  default     = null
}

# --- Downloads (CloudFront) ---

variable "download_price_class" {
  description = "Price class of the download distribution (PriceClass_100, PriceClass_200 or PriceClass_All): the edge locations that serve generated images."
  type        = string
  default     = "PriceClass_100"
}

# --- Queue ---

variable "max_receive_count" {
  description = "Deliveries of a job message before it moves to the dead-letter queue; the functions read the same value (IMAGEGEN_MAX_RECEIVE_COUNT) to know a job's last attempt."
  type        = number
}

variable "worker_batch_size" {
  description = "Jobs per worker invocation."
  type        = number
}

variable "worker_batching_window_seconds" {
  description = "Seconds the event source mapping waits to fill a batch."
  type        = number
}

variable "worker_max_concurrency" {
  description = "Maximum concurrent worker invocations started by the queue (2-1000)."
  type        = number
}

# --- Secrets ---

variable "secret_recovery_window_days" {
  description = "Recovery window of the Gemini key secret (0 or 7-30 days)."
  type        = number
}

variable "secrets_kms_key_arn" {
  description = "Customer managed KMS key for the Gemini key secret; null uses the AWS managed key. When set, the worker may kms:Decrypt with it through Secrets Manager."
  type        = string
  default     = null
}

# --- API Gateway ---

variable "stage_name" {
  description = "API Gateway stage name."
  type        = string
  default     = "v1"
}

variable "usage_plans" {
  description = "API Gateway usage plans by name (throttle and quota per plan)."
  type = map(object({
    rate_limit   = number
    burst_limit  = number
    quota_limit  = number
    quota_period = string
  }))
}

variable "api_keys" {
  description = "API Gateway keys created by Terraform, client name => usage plan."
  type        = map(string)
  default     = {}
}

variable "api_throttling_rate_limit" {
  description = "Stage-wide requests per second."
  type        = number
}

variable "api_throttling_burst_limit" {
  description = "Stage-wide burst."
  type        = number
}

variable "api_logging_level" {
  description = "API Gateway execution logging level (INFO or ERROR)."
  type        = string
}

variable "waf_enabled" {
  description = "Whether a WAF web ACL protects the API stage."
  type        = bool
}

variable "waf_rate_limit_per_5min" {
  description = "WAF requests per IP per 5 minutes before blocking."
  type        = number
}

# --- Observability ---

variable "alert_emails" {
  description = "Email addresses subscribed to the alert topic."
  type        = list(string)
  default     = []
}

variable "api_5xx_threshold" {
  description = "5XX responses per 5 minutes that fire the API alarm."
  type        = number
}

variable "api_duration_p95_threshold_ms" {
  description = "p95 duration of the API function that fires an alarm (ms)."
  type        = number
}

variable "worker_duration_p95_threshold_ms" {
  description = "p95 duration of the worker function that fires an alarm (ms)."
  type        = number
}

variable "queue_age_threshold_seconds" {
  description = "Age of the oldest queued job that fires an alarm (s)."
  type        = number
}

variable "quota_remaining_threshold" {
  description = "Remaining global daily images below which an alarm fires."
  type        = number
}

variable "gemini_error_rate_threshold_percent" {
  description = "Gemini error rate (%) above which an alarm fires."
  type        = number
}

variable "log_subscription_destination_arn" {
  description = "Destination for forwarding the environment's log groups (Kinesis, Firehose, Lambda or a log destination); null disables forwarding."
  type        = string
  default     = null
}

variable "log_subscription_role_arn" {
  description = "Role CloudWatch Logs assumes to deliver to a Kinesis or Firehose destination."
  type        = string
  default     = null
}

# --- Cost ---

variable "monthly_budget_usd" {
  description = "Monthly AWS cost budget in USD."
  type        = number
}

variable "budget_cost_filter_tags" {
  description = "Tags (activated as cost allocation tags) that restrict the budget and scope the cost anomaly monitor to this environment's spend; empty: the budget covers the whole account and there is no monitor."
  type        = map(string)
  default     = {}
}

variable "cost_anomaly_threshold_usd" {
  description = "Total impact (USD) at which an anomaly of this environment's spend is reported to the alert topic."
  type        = number
}

variable "s3_size_baseline_bytes" {
  description = "Image bucket size (bytes) above which a cost alarm fires."
  type        = number
}

variable "api_daily_duration_baseline_ms" {
  description = "Daily total API function duration (ms) above which a cost alarm fires."
  type        = number
}

variable "worker_daily_duration_baseline_ms" {
  description = "Daily total worker function duration (ms) above which a cost alarm fires."
  type        = number
}

# --- Custom domain ---

variable "domain_enabled" {
  description = "Whether the API gets a custom domain (ACM certificate, Route 53 records)."
  type        = bool
  default     = false
}

variable "domain_name" {
  description = "Custom domain of the API; required when domain_enabled."
  type        = string
  default     = null

  validation {
    condition     = !var.domain_enabled || var.domain_name != null
    error_message = "domain_name is required when domain_enabled is true."
  }
}

variable "hosted_zone_id" {
  description = "Route 53 hosted zone of domain_name; required when domain_enabled."
  type        = string
  default     = null

  validation {
    condition     = !var.domain_enabled || var.hosted_zone_id != null
    error_message = "hosted_zone_id is required when domain_enabled is true."
  }
}

variable "cloudfront_enabled" {
  description = "Whether CloudFront fronts the API on the custom domain."
  type        = bool
  default     = false
}
