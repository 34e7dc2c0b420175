# The whole stack of one environment. environments/staging and environments/prod each call it
# once, with their own settings (terraform.tfvars) and state (backend.tf); the release's Lambda
# artifacts come from `cargo xtask deploy`.

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  project     = "imagegen"
  name_prefix = "${local.project}-${var.settings.environment}"
  account_id  = data.aws_caller_identity.current.account_id

  # Every role this stack creates carries the environment's permissions boundary, which
  # environments/bootstrap creates (boundary.tf) under this name; the deploy role may create
  # roles only with it.
  permissions_boundary_arn = "arn:${data.aws_partition.current.partition}:iam::${local.account_id}:policy/${local.name_prefix}-boundary"

  # Bucket names shared with environments/bootstrap by convention.
  artifact_bucket   = coalesce(var.release.artifact_bucket, "${local.project}-artifacts-${local.account_id}")
  access_log_bucket = var.settings.s3_access_logging_enabled ? coalesce(var.settings.access_log_bucket, "${local.project}-access-logs-${local.account_id}") : null

  metrics_namespace = "Imagegen"

  # Configuration read by both functions at start-up.
  service_environment = {
    IMAGEGEN_ENV                     = var.settings.environment
    IMAGEGEN_JOBS_TABLE              = module.database.jobs_table_name
    IMAGEGEN_KEYS_TABLE              = module.database.api_keys_table_name
    IMAGEGEN_COUNTERS_TABLE          = module.database.counters_table_name
    IMAGEGEN_IDEMPOTENCY_TABLE       = module.database.idempotency_table_name
    IMAGEGEN_WEBHOOKS_TABLE          = module.database.webhooks_table_name
    IMAGEGEN_BUCKET                  = module.storage.bucket_name
    IMAGEGEN_QUEUE_URL               = module.queue.queue_url
    IMAGEGEN_WEBHOOK_QUEUE_URL       = module.queue.webhook_queue_url
    IMAGEGEN_URL_TTL_SECONDS         = tostring(var.settings.url_ttl_seconds)
    IMAGEGEN_DEFAULT_RATE_PER_MINUTE = tostring(var.settings.default_rate_per_minute)
    IMAGEGEN_DEFAULT_BURST           = tostring(var.settings.default_burst)
    IMAGEGEN_DEFAULT_DAILY_QUOTA     = tostring(var.settings.default_daily_quota)
    IMAGEGEN_DEFAULT_MONTHLY_QUOTA   = tostring(var.settings.default_monthly_quota)
    IMAGEGEN_IP_RATE_PER_MINUTE      = tostring(var.settings.ip_rate_per_minute)
    IMAGEGEN_GLOBAL_RATE_PER_MINUTE  = tostring(var.settings.global_rate_per_minute)
    IMAGEGEN_GLOBAL_DAILY_IMAGES     = tostring(var.settings.global_daily_images)
    IMAGEGEN_METRICS_NAMESPACE       = local.metrics_namespace
    # The worker calls this model; the api checks a request's image_size against it.
    IMAGEGEN_GEMINI_MODEL = var.settings.gemini_model
    # One variable each for the queue and the code that must agree with it: the delivery that
    # reaches maxReceiveCount is a job's last attempt, and no worker outlives its timeout.
    IMAGEGEN_MAX_RECEIVE_COUNT        = tostring(var.settings.max_receive_count)
    IMAGEGEN_WORKER_LEASE_SECONDS     = tostring(var.settings.worker_timeout_seconds)
    IMAGEGEN_QUEUE_VISIBILITY_SECONDS = tostring(module.queue.visibility_timeout_seconds)
  }

  # For a role that reads a secret encrypted with secrets_kms_key_arn: decrypt through Secrets
  # Manager only.
  decrypt_secrets = var.settings.secrets_kms_key_arn == null ? [] : [
    {
      sid       = "DecryptSecrets"
      actions   = ["kms:Decrypt"]
      resources = [var.settings.secrets_kms_key_arn]
      conditions = [{
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = ["secretsmanager.${var.settings.aws_region}.amazonaws.com"]
      }]
    },
  ]

  # DynamoDB item actions, per table. Transactions (TransactWriteItems/TransactGetItems)
  # are authorized through these item actions; they are not IAM actions themselves.
  # No s3:GetObject on generated/: downloads are CloudFront URLs signed with the download
  # signing key, and the distribution reads the objects through its origin access control.
  api_statements = concat(
    [
      {
        # DeleteItem: DELETE /v1/jobs/{id}.
        sid       = "JobsTable"
        actions   = ["dynamodb:ConditionCheckItem", "dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query", "dynamodb:UpdateItem"]
        resources = [module.database.jobs_table_arn]
      },
      {
        sid       = "ApiKeysTable"
        actions   = ["dynamodb:ConditionCheckItem", "dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query", "dynamodb:UpdateItem"]
        resources = [module.database.api_keys_table_arn]
      },
      {
        sid       = "CountersTable"
        actions   = ["dynamodb:ConditionCheckItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"]
        resources = [module.database.counters_table_arn]
      },
      {
        sid       = "IdempotencyTable"
        actions   = ["dynamodb:ConditionCheckItem", "dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"]
        resources = [module.database.idempotency_table_arn]
      },
      {
        # A tenant's signing secrets (read, written) and a job's delivery attempts (listed,
        # and deleted with the job: a Query, then one DeleteItem each).
        sid       = "WebhooksTable"
        actions   = ["dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query"]
        resources = [module.database.webhooks_table_arn]
      },
      {
        sid       = "TenantIndexes"
        actions   = ["dynamodb:Query"]
        resources = module.database.index_arns
      },
      {
        # Presigned PUT URLs for reference uploads are signed with this role; admission reads
        # an upload back, validates it and stores the prepared copy under uploads/ too.
        sid       = "Uploads"
        actions   = ["s3:GetObject", "s3:PutObject"]
        resources = ["${module.storage.bucket_arn}/uploads/*"]
      },
      {
        # DELETE /v1/jobs/{id} lists a job's folders and deletes every version of what is in
        # them (the bucket is versioned): its images (each attempt's) under generated/, its
        # prepared references under uploads/.
        sid       = "DeleteJobObjects"
        actions   = ["s3:DeleteObject", "s3:DeleteObjectVersion"]
        resources = ["${module.storage.bucket_arn}/generated/*", "${module.storage.bucket_arn}/uploads/*"]
      },
      {
        # Without ListBucket S3 answers 403 instead of 404 for a missing upload; a deleted
        # job's folders are listed with their versions.
        sid       = "ListObjects"
        actions   = ["s3:ListBucket", "s3:ListBucketVersions"]
        resources = [module.storage.bucket_arn]
        conditions = [{
          test     = "StringLike"
          variable = "s3:prefix"
          values   = ["uploads/*", "generated/*"]
        }]
      },
      {
        sid       = "EnqueueJobs"
        actions   = ["sqs:SendMessage"]
        resources = [module.queue.queue_arn]
      },
      {
        # Redeliveries asked for over the API, and a cancelled job's event.
        sid       = "EnqueueWebhooks"
        actions   = ["sqs:SendMessage"]
        resources = [module.queue.webhook_queue_arn]
      },
      {
        # The key that signs download URLs (IMAGEGEN_DOWNLOAD_SIGNING_KEY_SECRET_ARN).
        sid       = "ReadDownloadSigningKey"
        actions   = ["secretsmanager:GetSecretValue"]
        resources = [module.download_signing_key.secret_arn]
      },
    ],
    local.decrypt_secrets,
  )

  worker_statements = concat(
    [
      {
        # Job transitions are conditional PutItems of the whole record.
        sid       = "JobsTable"
        actions   = ["dynamodb:ConditionCheckItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"]
        resources = [module.database.jobs_table_arn]
      },
      {
        sid       = "CountersTable"
        actions   = ["dynamodb:ConditionCheckItem", "dynamodb:GetItem", "dynamodb:UpdateItem"]
        resources = [module.database.counters_table_arn]
      },
      {
        # A tenant's signing secret (read) and each delivery attempt (written).
        sid       = "WebhooksTable"
        actions   = ["dynamodb:GetItem", "dynamodb:PutItem"]
        resources = [module.database.webhooks_table_arn]
      },
      {
        sid       = "ReadUploads"
        actions   = ["s3:GetObject"]
        resources = ["${module.storage.bucket_arn}/uploads/*"]
      },
      {
        sid       = "WriteGenerated"
        actions   = ["s3:GetObject", "s3:PutObject"]
        resources = ["${module.storage.bucket_arn}/generated/*"]
      },
      {
        # Without ListBucket S3 answers 403 instead of 404 for an expired reference.
        sid       = "ListObjects"
        actions   = ["s3:ListBucket"]
        resources = [module.storage.bucket_arn]
        conditions = [{
          test     = "StringLike"
          variable = "s3:prefix"
          values   = ["uploads/*", "generated/*"]
        }]
      },
      {
        # The event source mapping polls with the function's role; the worker shortens a
        # message's visibility to an upstream retry hint.
        sid       = "ConsumeJobs"
        actions   = ["sqs:ChangeMessageVisibility", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage"]
        resources = [module.queue.queue_arn]
      },
      {
        # Unreadable messages go straight to the DLQ; the janitor reads it (hiding what it read
        # through ReceiveMessage's VisibilityTimeout) but never deletes from it.
        sid       = "DeadLetters"
        actions   = ["sqs:ReceiveMessage", "sqs:SendMessage"]
        resources = [module.queue.dlq_arn]
      },
      {
        # The webhook queue's event source mapping polls with the function's role; a failed
        # delivery goes back on the queue as a new message with a delay.
        sid       = "DeliverWebhooks"
        actions   = ["sqs:ChangeMessageVisibility", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage", "sqs:SendMessage"]
        resources = [module.queue.webhook_queue_arn]
      },
      {
        # A delivery's last failed try; nothing of the worker reads this queue.
        sid       = "WebhookDeadLetters"
        actions   = ["sqs:SendMessage"]
        resources = [module.queue.webhook_dlq_arn]
      },
      {
        # The janitor's sweep of open jobs past their deadline.
        sid       = "OverdueJobs"
        actions   = ["dynamodb:Query"]
        resources = ["${module.database.jobs_table_arn}/index/open_by_deadline"]
      },
      {
        sid       = "ReadGeminiKey"
        actions   = ["secretsmanager:GetSecretValue"]
        resources = [module.secrets.secret_arn]
      },
    ],
    local.decrypt_secrets,
  )
}

module "database" {
  source = "../../modules/database"

  name_prefix                    = local.name_prefix
  point_in_time_recovery_enabled = var.settings.point_in_time_recovery_enabled
  deletion_protection_enabled    = var.settings.deletion_protection_enabled
}

module "storage" {
  source = "../../modules/storage"

  bucket_name               = "${local.name_prefix}-images-${local.account_id}"
  force_destroy             = var.settings.bucket_force_destroy
  generated_expiration_days = var.settings.generated_expiration_days
  uploads_expiration_days   = var.settings.uploads_expiration_days
  cors_allowed_origins      = var.settings.cors_allowed_origins
  access_log_bucket         = local.access_log_bucket

  # Downloads go through the distribution; the bucket admits it for generated/ only.
  cloudfront_downloads_enabled = true
  cloudfront_distribution_arn  = module.downloads.distribution_arn
}

module "downloads" {
  source = "../../modules/downloads"

  name_prefix                 = local.name_prefix
  bucket_regional_domain_name = module.storage.bucket_regional_domain_name
  signing_key_secret_arn      = module.download_signing_key.secret_arn
  price_class                 = var.settings.download_price_class
  cors_allowed_origins        = var.settings.cors_allowed_origins
}

module "queue" {
  source = "../../modules/queue"

  name                               = "${local.name_prefix}-jobs"
  worker_timeout_seconds             = var.settings.worker_timeout_seconds
  max_receive_count                  = var.settings.max_receive_count
  worker_function_arn                = module.worker.alias_arn
  worker_function_name               = module.worker.function_name
  worker_alias_name                  = module.worker.alias_name
  batch_size                         = var.settings.worker_batch_size
  maximum_batching_window_in_seconds = var.settings.worker_batching_window_seconds
  maximum_concurrency                = var.settings.worker_max_concurrency
  webhook_maximum_concurrency        = var.settings.webhook_max_concurrency
}

module "secrets" {
  source = "../../modules/secrets"

  name                    = "${local.project}/${var.settings.environment}/gemini-api-key"
  recovery_window_in_days = var.settings.secret_recovery_window_days
  kms_key_arn             = var.settings.secrets_kms_key_arn
  reader_role_arns        = [module.worker.role_arn]
}

# The download signing key: modules/downloads generates it and writes its value (JSON with
# key_pair_id and private_key_pem), so the principal that applies Terraform reads it back
# (the AWS provider calls GetSecretValue on every refresh) and the deny on other readers is off;
# that principal holds the key in the state anyway.
module "download_signing_key" {
  source = "../../modules/secrets"

  name                    = "${local.project}/${var.settings.environment}/download-signing-key"
  description             = "CloudFront key that signs download URLs (JSON: key_pair_id, private_key_pem); generated and written by Terraform (modules/downloads)."
  recovery_window_in_days = var.settings.secret_recovery_window_days
  kms_key_arn             = var.settings.secrets_kms_key_arn
  reader_role_arns        = [module.api.role_arn]
  deny_other_readers      = false
}

module "api" {
  source = "../../modules/lambda_function"

  function_name                  = "${local.name_prefix}-api"
  description                    = "imagegen HTTP API (${var.settings.environment})"
  architecture                   = var.release.lambda_architecture
  s3_bucket                      = local.artifact_bucket
  s3_key                         = var.release.api_artifact_key
  source_code_hash               = var.release.api_artifact_sha256
  memory_size                    = var.settings.api_memory_mb
  timeout                        = var.settings.api_timeout_seconds
  reserved_concurrent_executions = coalesce(var.settings.api_reserved_concurrency, -1)
  log_retention_days             = var.settings.log_retention_days
  application_log_level          = var.settings.application_log_level
  policy_statements              = local.api_statements
  permissions_boundary_arn       = local.permissions_boundary_arn

  environment_variables = merge(local.service_environment, {
    AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH = "true"
    # Download URLs: <base URL>/<object key>, signed with the key in this secret.
    IMAGEGEN_DOWNLOAD_BASE_URL               = "https://${module.downloads.domain_name}"
    IMAGEGEN_DOWNLOAD_SIGNING_KEY_SECRET_ARN = module.download_signing_key.secret_arn
    # Keys made over POST /v1/admin/keys go on this REST API's usage plans, as
    # `cargo xtask keys` does. The plans are found at run time: a plan id here would depend
    # on the stage, which depends on this function.
    IMAGEGEN_REST_API_ID = module.api_gateway.rest_api_id
  })
}

# What the api function needs to keep API Gateway keys in step with its own (usecases::keys):
# its plans, and keys named and tagged for this environment. Separate from the function's own
# policy, which the function waits for: the plan ids come from the stage, which waits for the
# function. API keys have no name-scoped ARNs; creating, tagging and deleting is limited by the
# imagegen:env tag the service sets on every key it creates.
data "aws_iam_policy_document" "api_gateway_keys" {
  statement {
    sid     = "FindPlansAndKeys"
    actions = ["apigateway:GET"]
    resources = [
      "arn:aws:apigateway:${var.settings.aws_region}::/usageplans",
      "arn:aws:apigateway:${var.settings.aws_region}::/apikeys",
    ]
  }

  statement {
    sid     = "OwnPlans"
    actions = ["apigateway:GET", "apigateway:POST"]
    resources = flatten([
      for id in values(module.api_gateway.usage_plan_ids) : [
        "arn:aws:apigateway:${var.settings.aws_region}::/usageplans/${id}",
        "arn:aws:apigateway:${var.settings.aws_region}::/usageplans/${id}/keys",
      ]
    ])
  }

  statement {
    sid       = "CreateTaggedKeys"
    actions   = ["apigateway:POST", "apigateway:PUT"]
    resources = ["arn:aws:apigateway:${var.settings.aws_region}::/apikeys", "arn:aws:apigateway:${var.settings.aws_region}::/tags/*"]

    condition {
      test     = "StringEquals"
      variable = "aws:RequestTag/imagegen:env"
      values   = [var.settings.environment]
    }
  }

  statement {
    sid       = "DeleteOwnKeys"
    actions   = ["apigateway:DELETE"]
    resources = ["arn:aws:apigateway:${var.settings.aws_region}::/apikeys/*"]

    condition {
      test     = "StringEquals"
      variable = "aws:ResourceTag/imagegen:env"
      values   = [var.settings.environment]
    }
  }
}

resource "aws_iam_role_policy" "api_gateway_keys" {
  name   = "api-gateway-keys"
  role   = module.api.role_name
  policy = data.aws_iam_policy_document.api_gateway_keys.json
}

module "worker" {
  source = "../../modules/lambda_function"

  function_name                  = "${local.name_prefix}-worker"
  description                    = "imagegen job worker (${var.settings.environment})"
  architecture                   = var.release.lambda_architecture
  s3_bucket                      = local.artifact_bucket
  s3_key                         = var.release.worker_artifact_key
  source_code_hash               = var.release.worker_artifact_sha256
  memory_size                    = var.settings.worker_memory_mb
  timeout                        = var.settings.worker_timeout_seconds
  reserved_concurrent_executions = coalesce(var.settings.worker_reserved_concurrency, -1)
  log_retention_days             = var.settings.log_retention_days
  application_log_level          = var.settings.application_log_level
  policy_statements              = local.worker_statements
  permissions_boundary_arn       = local.permissions_boundary_arn

  environment_variables = merge(local.service_environment, {
    IMAGEGEN_GEMINI_SECRET_ARN             = module.secrets.secret_arn
    IMAGEGEN_DEAD_LETTER_QUEUE_URL         = module.queue.dlq_url
    IMAGEGEN_WEBHOOK_DEAD_LETTER_QUEUE_URL = module.queue.webhook_dlq_url
    IMAGEGEN_GEMINI_TIMEOUT_SECONDS        = tostring(var.settings.gemini_timeout_seconds)
    IMAGEGEN_GEMINI_MAX_ATTEMPTS           = tostring(var.settings.gemini_max_attempts)
  })
}

module "api_gateway" {
  source = "../../modules/api_gateway"

  name                 = local.name_prefix
  description          = "imagegen API (${var.settings.environment})"
  stage_name           = var.settings.stage_name
  lambda_function_name = module.api.function_name
  lambda_alias_name    = module.api.alias_name
  lambda_invoke_arn    = module.api.alias_invoke_arn
  # The custom domain is then the only address; CloudFront's origin is the execute-api endpoint,
  # so it stays on behind CloudFront.
  disable_execute_api_endpoint = var.settings.domain_enabled && !var.settings.cloudfront_enabled
  usage_plans                  = var.settings.usage_plans
  api_keys                     = var.settings.api_keys
  throttling_rate_limit        = var.settings.api_throttling_rate_limit
  throttling_burst_limit       = var.settings.api_throttling_burst_limit
  logging_level                = var.settings.api_logging_level
  log_retention_days           = var.settings.log_retention_days
  waf_enabled                  = var.settings.waf_enabled
  waf_rate_limit_per_5min      = var.settings.waf_rate_limit_per_5min
}

module "observability" {
  source = "../../modules/observability"

  name_prefix                         = local.name_prefix
  environment                         = var.settings.environment
  alert_emails                        = var.settings.alert_emails
  api_name                            = module.api_gateway.rest_api_name
  api_stage_name                      = module.api_gateway.stage_name
  api_5xx_threshold                   = var.settings.api_5xx_threshold
  queue_name                          = module.queue.queue_name
  dlq_name                            = module.queue.dlq_name
  webhook_queue_name                  = module.queue.webhook_queue_name
  webhook_dlq_name                    = module.queue.webhook_dlq_name
  queue_age_threshold_seconds         = var.settings.queue_age_threshold_seconds
  metrics_namespace                   = local.metrics_namespace
  quota_remaining_threshold           = var.settings.quota_remaining_threshold
  gemini_error_rate_threshold_percent = var.settings.gemini_error_rate_threshold_percent

  lambda_functions = {
    api = {
      function_name             = module.api.function_name
      duration_p95_threshold_ms = var.settings.api_duration_p95_threshold_ms
    }
    worker = {
      function_name             = module.worker.function_name
      duration_p95_threshold_ms = var.settings.worker_duration_p95_threshold_ms
    }
  }

  log_subscription_log_group_names = [
    module.api.log_group_name,
    module.worker.log_group_name,
    module.api_gateway.access_log_group_name,
  ]
  log_subscription_destination_arn = var.settings.log_subscription_destination_arn
  log_subscription_role_arn        = var.settings.log_subscription_role_arn
}

module "cost" {
  source = "../../modules/cost"

  name_prefix            = local.name_prefix
  monthly_budget_usd     = var.settings.monthly_budget_usd
  alert_topic_arn        = module.observability.alert_topic_arn
  cost_filter_tags       = var.settings.budget_cost_filter_tags
  anomaly_threshold_usd  = var.settings.cost_anomaly_threshold_usd
  bucket_name            = module.storage.bucket_name
  s3_size_baseline_bytes = var.settings.s3_size_baseline_bytes

  lambda_functions = {
    api = {
      function_name              = module.api.function_name
      daily_duration_baseline_ms = var.settings.api_daily_duration_baseline_ms
    }
    worker = {
      function_name              = module.worker.function_name
      daily_duration_baseline_ms = var.settings.worker_daily_duration_baseline_ms
    }
  }
}

module "domain" {
  source = "../../modules/domain"
  count  = var.settings.domain_enabled ? 1 : 0

  providers = {
    aws           = aws
    aws.us_east_1 = aws.us_east_1
  }

  domain_name        = var.settings.domain_name
  hosted_zone_id     = var.settings.hosted_zone_id
  rest_api_id        = module.api_gateway.rest_api_id
  stage_name         = module.api_gateway.stage_name
  cloudfront_enabled = var.settings.cloudfront_enabled
}
