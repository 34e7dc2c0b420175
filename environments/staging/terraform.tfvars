# staging: small, cheap, disposable. The settings of modules/stack (described in its
# variables.tf); the Lambda artifacts (keys, hashes, architecture) come from
# `cargo xtask deploy` (-var=release={...}), not from this file.

settings = {
  environment = "staging"
  aws_region  = "eu-west-1"

  # Lambda sizing
  api_memory_mb       = 512
  api_timeout_seconds = 28
  # None reserved: a new account's quota (10 concurrent executions) leaves nothing to
  # reserve (Lambda keeps 100 unreserved), and staging needs no guarantee.
  api_reserved_concurrency    = null
  worker_memory_mb            = 1024
  worker_timeout_seconds      = 120
  worker_reserved_concurrency = null
  log_retention_days          = 14
  application_log_level       = "INFO"

  # Service configuration
  gemini_model            = "gemini-2.5-flash-image"
  gemini_timeout_seconds  = 60
  gemini_max_attempts     = 3
  url_ttl_seconds         = 900
  default_rate_per_minute = 30
  default_burst           = 10
  default_daily_quota     = 50
  default_monthly_quota   = 500
  ip_rate_per_minute      = 60
  global_rate_per_minute  = 120
  global_daily_images     = 200

  # Data
  deletion_protection_enabled    = false
  point_in_time_recovery_enabled = true # tiny tables: PITR costs cents
  bucket_force_destroy           = true
  generated_expiration_days      = 7
  uploads_expiration_days        = 1
  cors_allowed_origins           = []
  s3_access_logging_enabled      = true

  # Downloads: a CloudFront distribution serves generated images with security headers
  download_price_class = "PriceClass_100"

  # Queue
  max_receive_count              = 3
  worker_batch_size              = 1
  worker_batching_window_seconds = 0
  worker_max_concurrency         = 5
  webhook_max_concurrency        = 2

  # Secrets: deleted at once, so a torn-down staging can be re-created under the same names.
  secret_recovery_window_days = 0

  # API Gateway. Clients send their service key (igk_...) in x-api-key, which API Gateway
  # also checks: keys are registered in a usage plan with that same value by
  # `cargo xtask keys`, so none are created here (a Terraform-generated value would be
  # rejected by the service and would sit in state).
  stage_name = "v1"
  usage_plans = {
    standard = { rate_limit = 5, burst_limit = 10, quota_limit = 1000, quota_period = "DAY" }
  }
  api_keys                   = {}
  api_throttling_rate_limit  = 20
  api_throttling_burst_limit = 40
  api_logging_level          = "INFO"
  waf_enabled                = false
  waf_rate_limit_per_5min    = 1000

  # Observability
  alert_emails                        = [] # e.g. ["imagegen-alerts@example.com"]; each address must confirm
  api_5xx_threshold                   = 5
  api_duration_p95_threshold_ms       = 10000
  worker_duration_p95_threshold_ms    = 90000
  queue_age_threshold_seconds         = 900
  quota_remaining_threshold           = 20
  gemini_error_rate_threshold_percent = 20

  # Cost
  monthly_budget_usd                = 50
  budget_cost_filter_tags           = { Environment = "staging" } # the provider tags every resource with it
  cost_anomaly_threshold_usd        = 5
  s3_size_baseline_bytes            = 5368709120 # 5 GiB
  api_daily_duration_baseline_ms    = 3600000    # 1 h of API compute per day
  worker_daily_duration_baseline_ms = 7200000    # 2 h of worker compute per day

  # Custom domain
  domain_enabled     = false
  cloudfront_enabled = false
}
