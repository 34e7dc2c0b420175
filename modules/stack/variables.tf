# The environment's settings: each environment sets them in its terraform.tfvars as one object,
# `settings = { ... }`. What each attribute means is the comment above it; optional() gives an
# attribute's default.
variable "settings" {
  description = "The environment's settings (`settings` in environments/<env>/terraform.tfvars); each attribute is described in modules/stack/variables.tf."
  type = object({
    # --- Environment ---

    # Environment name (staging or prod); names every resource `<project>-<environment>-*`.
    environment = string

    # Region of the deployment; must match the bootstrap region (the artifact bucket is read by Lambda).
    aws_region = string

    # The account the environment lives in: the provider refuses credentials of any other, and
    # `cargo xtask deploy` checks it first. null: any account (staging only; prod must set it).
    aws_account_id = optional(string)

    # --- Lambda sizing ---

    # Memory of the API function in MB.
    api_memory_mb = number

    # Timeout of the API function in seconds: below API Gateway's 29 s, so the function ends (and logs why) before the gateway answers 504, and above the longest `Prefer: wait` (25 s).
    api_timeout_seconds = number

    # Reserved concurrency of the API function; null reserves none (a new account's quota of
    # 10 concurrent executions leaves nothing to reserve: Lambda keeps 100 unreserved).
    api_reserved_concurrency = optional(number)

    # Memory of the worker function in MB.
    worker_memory_mb = number

    # Timeout of the worker function in seconds; also sets the queue's visibility timeout and the job lease (IMAGEGEN_WORKER_LEASE_SECONDS).
    worker_timeout_seconds = number

    # Reserved concurrency of the worker function: more than worker_max_concurrency and webhook_max_concurrency together, since the janitor's schedule runs in it too; null reserves none.
    worker_reserved_concurrency = optional(number)

    # Retention in days of every log group of the environment.
    log_retention_days = number

    # Application log level of both functions (AWS_LAMBDA_LOG_LEVEL).
    application_log_level = optional(string, "INFO")

    # --- Service configuration (IMAGEGEN_* environment variables) ---

    # Gemini model that generates images (IMAGEGEN_GEMINI_MODEL).
    gemini_model = string

    # Per-call Gemini timeout, connect to last byte (IMAGEGEN_GEMINI_TIMEOUT_SECONDS); must leave room within worker_timeout_seconds.
    gemini_timeout_seconds = number

    # Gemini calls one image may cost in total, across every delivery of its job (IMAGEGEN_GEMINI_MAX_ATTEMPTS).
    gemini_max_attempts = number

    # Lifetime of signed download and upload URLs (IMAGEGEN_URL_TTL_SECONDS).
    url_ttl_seconds = number

    # Default per-key requests per minute (IMAGEGEN_DEFAULT_RATE_PER_MINUTE).
    default_rate_per_minute = number

    # Default per-key burst (IMAGEGEN_DEFAULT_BURST).
    default_burst = number

    # Default per-tenant images per day (IMAGEGEN_DEFAULT_DAILY_QUOTA).
    default_daily_quota = number

    # Default per-tenant images per month (IMAGEGEN_DEFAULT_MONTHLY_QUOTA).
    default_monthly_quota = number

    # Requests per minute per source IP (IMAGEGEN_IP_RATE_PER_MINUTE).
    ip_rate_per_minute = number

    # Requests per minute across all callers (IMAGEGEN_GLOBAL_RATE_PER_MINUTE).
    global_rate_per_minute = number

    # Global daily Gemini image budget (IMAGEGEN_GLOBAL_DAILY_IMAGES).
    global_daily_images = number

    # --- Data ---

    # Whether the DynamoDB tables are protected against deletion.
    deletion_protection_enabled = bool

    # Whether the DynamoDB tables have point-in-time recovery.
    point_in_time_recovery_enabled = bool

    # Whether destroying the environment may delete a non-empty image bucket.
    bucket_force_destroy = optional(bool, false)

    # Days generated images are kept.
    generated_expiration_days = number

    # Days reference uploads are kept.
    uploads_expiration_days = number

    # Browser origins allowed to use signed URLs.
    cors_allowed_origins = optional(list(string), [])

    # Whether the image bucket's server access logs go to the bootstrap access-log bucket.
    s3_access_logging_enabled = optional(bool, true)

    # Access-log bucket. null uses the bootstrap convention `imagegen-access-logs-<account id>`.
    access_log_bucket = optional(string)

    # --- Downloads (CloudFront) ---

    # Price class of the download distribution (PriceClass_100, PriceClass_200 or PriceClass_All): the edge locations that serve generated images.
    download_price_class = optional(string, "PriceClass_100")

    # --- Queue ---

    # Deliveries of a job message before it moves to the dead-letter queue; the functions read the same value (IMAGEGEN_MAX_RECEIVE_COUNT) to know a job's last attempt.
    max_receive_count = number

    # Jobs per worker invocation.
    worker_batch_size = number

    # Seconds the event source mapping waits to fill a batch.
    worker_batching_window_seconds = number

    # Maximum concurrent worker invocations started by the queue (2-1000).
    worker_max_concurrency = number

    # Maximum concurrent worker invocations started by the webhook queue (2-1000): deliveries
    # wait on receivers, so a few keep them from taking the concurrency jobs need.
    webhook_max_concurrency = optional(number, 2)

    # --- Secrets ---

    # Recovery window of the Gemini key secret (0 or 7-30 days).
    secret_recovery_window_days = number

    # Customer managed KMS key for the Gemini key secret; null uses the AWS managed key. When set, the worker may kms:Decrypt with it through Secrets Manager.
    secrets_kms_key_arn = optional(string)

    # --- API Gateway ---

    # API Gateway stage name.
    stage_name = optional(string, "v1")

    # API Gateway usage plans by name (throttle and quota per plan).
    usage_plans = map(object({
      rate_limit   = number
      burst_limit  = number
      quota_limit  = number
      quota_period = string
    }))

    # API Gateway keys created by Terraform, client name => usage plan.
    api_keys = optional(map(string), {})

    # Stage-wide requests per second.
    api_throttling_rate_limit = number

    # Stage-wide burst.
    api_throttling_burst_limit = number

    # API Gateway execution logging level (INFO or ERROR).
    api_logging_level = string

    # Whether a WAF web ACL protects the API stage.
    waf_enabled = bool

    # WAF requests per IP per 5 minutes before blocking.
    waf_rate_limit_per_5min = number

    # --- Observability ---

    # Email addresses subscribed to the alert topic.
    alert_emails = optional(list(string), [])

    # 5XX responses per 5 minutes that fire the API alarm.
    api_5xx_threshold = number

    # p95 duration of the API function that fires an alarm (ms).
    api_duration_p95_threshold_ms = number

    # p95 duration of the worker function that fires an alarm (ms).
    worker_duration_p95_threshold_ms = number

    # Age of the oldest queued job that fires an alarm (s).
    queue_age_threshold_seconds = number

    # Remaining global daily images below which an alarm fires.
    quota_remaining_threshold = number

    # Gemini error rate (%) above which an alarm fires.
    gemini_error_rate_threshold_percent = number

    # Destination for forwarding the environment's log groups (Kinesis, Firehose, Lambda or a log destination); null disables forwarding.
    log_subscription_destination_arn = optional(string)

    # Role CloudWatch Logs assumes to deliver to a Kinesis or Firehose destination.
    log_subscription_role_arn = optional(string)

    # --- Cost ---

    # Monthly AWS cost budget in USD.
    monthly_budget_usd = number

    # Tags (activated as cost allocation tags) that restrict the budget and scope the cost anomaly monitor to this environment's spend; empty: the budget covers the whole account and there is no monitor.
    budget_cost_filter_tags = optional(map(string), {})

    # Total impact (USD) at which an anomaly of this environment's spend is reported to the alert topic.
    cost_anomaly_threshold_usd = number

    # Image bucket size (bytes) above which a cost alarm fires.
    s3_size_baseline_bytes = number

    # Daily total API function duration (ms) above which a cost alarm fires.
    api_daily_duration_baseline_ms = number

    # Daily total worker function duration (ms) above which a cost alarm fires.
    worker_daily_duration_baseline_ms = number

    # --- Custom domain ---

    # Whether the API gets a custom domain (ACM certificate, Route 53 records).
    domain_enabled = optional(bool, false)

    # Custom domain of the API; required when domain_enabled.
    domain_name = optional(string)

    # Route 53 hosted zone of domain_name; required when domain_enabled.
    hosted_zone_id = optional(string)

    # Whether CloudFront fronts the API on the custom domain.
    cloudfront_enabled = optional(bool, false)
  })

  validation {
    condition     = contains(["staging", "prod"], var.settings.environment)
    error_message = "environment must be staging or prod."
  }

  validation {
    condition     = can(regex("^[a-z]{2}(-gov)?-[a-z]+-[0-9]$", var.settings.aws_region))
    error_message = "aws_region must be an AWS region name such as eu-west-1."
  }

  validation {
    condition     = var.settings.api_timeout_seconds > 25 && var.settings.api_timeout_seconds < 29 && floor(var.settings.api_timeout_seconds) == var.settings.api_timeout_seconds
    error_message = "api_timeout_seconds must be 26, 27 or 28: below API Gateway's 29 s integration timeout and above the longest Prefer: wait (25 s)."
  }

  validation {
    condition     = var.settings.worker_reserved_concurrency == null ? true : var.settings.worker_reserved_concurrency > var.settings.worker_max_concurrency + var.settings.webhook_max_concurrency
    error_message = "worker_reserved_concurrency must be null or > worker_max_concurrency + webhook_max_concurrency: the two event source mappings may use all of those, and the janitor needs one more."
  }

  validation {
    condition     = var.settings.aws_account_id == null ? var.settings.environment != "prod" : can(regex("^[0-9]{12}$", var.settings.aws_account_id))
    error_message = "aws_account_id must be a 12-digit account ID, and prod must set it."
  }

  # Prod's alarms and its budget must reach someone.
  validation {
    condition     = var.settings.environment != "prod" || length(var.settings.alert_emails) > 0
    error_message = "prod needs at least one alert subscriber in alert_emails."
  }

  validation {
    condition     = var.settings.gemini_timeout_seconds >= 1 && var.settings.gemini_timeout_seconds <= 600 && floor(var.settings.gemini_timeout_seconds) == var.settings.gemini_timeout_seconds
    error_message = "gemini_timeout_seconds must be a whole number between 1 and 600."
  }

  # A call must fit in one worker invocation (the worker checks the same at start-up).
  validation {
    condition     = var.settings.gemini_timeout_seconds <= max(var.settings.worker_timeout_seconds - 15, floor(var.settings.worker_timeout_seconds / 2))
    error_message = "gemini_timeout_seconds must leave 15 s of worker_timeout_seconds (or half of it) for storing the image."
  }

  validation {
    condition     = var.settings.gemini_max_attempts >= 1 && var.settings.gemini_max_attempts <= 10 && floor(var.settings.gemini_max_attempts) == var.settings.gemini_max_attempts
    error_message = "gemini_max_attempts must be a whole number between 1 and 10."
  }

  validation {
    condition     = var.settings.url_ttl_seconds >= 60 && var.settings.url_ttl_seconds <= 43200
    error_message = "url_ttl_seconds must be between 60 and 43200 (the Lambda role's session bounds presigned URLs)."
  }

  validation {
    condition     = !var.settings.domain_enabled || var.settings.domain_name != null
    error_message = "domain_name is required when domain_enabled is true."
  }

  validation {
    condition     = !var.settings.domain_enabled || var.settings.hosted_zone_id != null
    error_message = "hosted_zone_id is required when domain_enabled is true."
  }
}

# Terraform drops object attributes a type does not declare: without this check a misspelt setting is ignored.
variable "setting_names" {
  description = "The attribute names of the settings object the environment gave (`keys(var.settings)` in its root): each must be an attribute of `settings`."
  type        = list(string)

  validation {
    condition     = length(setsubtract(var.setting_names, keys(var.settings))) == 0
    error_message = "settings has no attribute ${join(", ", sort(setsubtract(var.setting_names, keys(var.settings))))}: check the spelling in terraform.tfvars (modules/stack/variables.tf lists every setting)."
  }
}

# The Lambda artifacts of the release to deploy: `cargo xtask deploy` passes them as one
# `-var=release={...}`, not from terraform.tfvars.
variable "release" {
  description = "The release's Lambda artifacts, passed by `cargo xtask deploy` as one `-var=release={...}` object."
  type = object({
    # Bucket holding the Lambda zips. null uses the bootstrap convention `imagegen-artifacts-<account id>`.
    artifact_bucket = optional(string)

    # S3 key of the API zip, `lambda/<sha256hex>.zip`.
    api_artifact_key = string

    # filebase64sha256 of the API zip.
    api_artifact_sha256 = string

    # S3 key of the worker zip, `lambda/<sha256hex>.zip`.
    worker_artifact_key = string

    # filebase64sha256 of the worker zip.
    worker_artifact_sha256 = string

    # Instruction set of both functions (x86_64 or arm64); must match the build target.
    lambda_architecture = optional(string, "x86_64")
  })

  validation {
    condition     = can(regex("^lambda/[0-9a-f]{64}\\.zip$", var.release.api_artifact_key))
    error_message = "api_artifact_key must look like lambda/<64 hex characters>.zip."
  }

  validation {
    condition     = can(regex("^[A-Za-z0-9+/]{43}=$", var.release.api_artifact_sha256))
    error_message = "api_artifact_sha256 must be a base64-encoded SHA-256 (filebase64sha256 output)."
  }

  validation {
    condition     = can(regex("^lambda/[0-9a-f]{64}\\.zip$", var.release.worker_artifact_key))
    error_message = "worker_artifact_key must look like lambda/<64 hex characters>.zip."
  }

  validation {
    condition     = can(regex("^[A-Za-z0-9+/]{43}=$", var.release.worker_artifact_sha256))
    error_message = "worker_artifact_sha256 must be a base64-encoded SHA-256 (filebase64sha256 output)."
  }

  validation {
    condition     = contains(["x86_64", "arm64"], var.release.lambda_architecture)
    error_message = "lambda_architecture must be x86_64 or arm64."
  }
}
