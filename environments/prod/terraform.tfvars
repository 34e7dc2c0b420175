# prod: protected data, longer retention, WAF and a custom domain, higher limits. The settings
# of modules/stack (described in its variables.tf); the Lambda artifacts (keys, hashes,
# architecture) come from `cargo xtask deploy` (-var=release={...}), not from this file.

settings = {
  environment = "prod"
  aws_region  = "eu-west-1"
  # Replace with prod's account ID: the provider and the deploy's preflight refuse any other.
  aws_account_id = "000000000000"

  # Lambda sizing
  api_memory_mb               = 1024
  api_timeout_seconds         = 28
  api_reserved_concurrency    = 100
  worker_memory_mb            = 2048
  worker_timeout_seconds      = 120
  worker_reserved_concurrency = 25
  log_retention_days          = 90
  application_log_level       = "INFO"

  # Service configuration
  gemini_model            = "gemini-2.5-flash-image"
  gemini_timeout_seconds  = 60
  gemini_max_attempts     = 3
  url_ttl_seconds         = 900
  default_rate_per_minute = 60
  default_burst           = 20
  default_daily_quota     = 500
  default_monthly_quota   = 10000
  ip_rate_per_minute      = 120
  global_rate_per_minute  = 1200
  global_daily_images     = 5000

  # Data
  deletion_protection_enabled    = true
  point_in_time_recovery_enabled = true
  bucket_force_destroy           = false
  generated_expiration_days      = 30
  uploads_expiration_days        = 1
  cors_allowed_origins           = []
  s3_access_logging_enabled      = true

  # Downloads: a CloudFront distribution serves generated images with security headers
  download_price_class = "PriceClass_100"

  # Queue
  max_receive_count              = 3
  worker_batch_size              = 1
  worker_batching_window_seconds = 0
  worker_max_concurrency         = 20
  webhook_max_concurrency        = 2

  # Secrets
  secret_recovery_window_days = 30

  # API Gateway. Clients send their service key (igk_...) in x-api-key, which API Gateway
  # also checks: keys are registered in a usage plan with that same value by
  # `cargo xtask keys`, so none are created here (a Terraform-generated value would be
  # rejected by the service and would sit in state).
  stage_name = "v1"
  usage_plans = {
    standard = { rate_limit = 10, burst_limit = 20, quota_limit = 10000, quota_period = "DAY" }
    partner  = { rate_limit = 50, burst_limit = 100, quota_limit = 100000, quota_period = "MONTH" }
  }
  api_keys                   = {}
  api_throttling_rate_limit  = 100
  api_throttling_burst_limit = 200
  api_logging_level          = "ERROR"
  waf_enabled                = true
  waf_rate_limit_per_5min    = 2000

  # Observability
  alert_emails                        = ["imagegen-oncall@example.com"] # replace; each address must confirm
  api_5xx_threshold                   = 5
  api_duration_p95_threshold_ms       = 10000
  worker_duration_p95_threshold_ms    = 90000
  queue_age_threshold_seconds         = 600
  quota_remaining_threshold           = 500
  gemini_error_rate_threshold_percent = 10

  # Cost
  monthly_budget_usd                = 500
  budget_cost_filter_tags           = { Environment = "prod" } # the provider tags every resource with it
  cost_anomaly_threshold_usd        = 25
  s3_size_baseline_bytes            = 107374182400 # 100 GiB
  api_daily_duration_baseline_ms    = 36000000     # 10 h of API compute per day
  worker_daily_duration_baseline_ms = 72000000     # 20 h of worker compute per day

  # Custom domain: replace with the real name and its Route 53 hosted zone.
  domain_enabled     = true
  domain_name        = "api.imagegen.example.com"
  hosted_zone_id     = "Z0000000000000000000"
  cloudfront_enabled = false
}
