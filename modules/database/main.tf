# The table layout is shared with the service's DynamoDB adapter (lambda/src/store):
# key names, index names and the TTL attribute must stay exactly as they are here.

resource "aws_dynamodb_table" "jobs" {
  #checkov:skip=CKV_AWS_119:Encrypted with the AWS managed DynamoDB key; a customer managed key can be supplied through kms_key_arn.
  name                        = "${var.name_prefix}-jobs"
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "job_id"
  deletion_protection_enabled = var.deletion_protection_enabled

  attribute {
    name = "job_id"
    type = "S"
  }

  attribute {
    name = "tenant"
    type = "S"
  }

  attribute {
    name = "created_sort"
    type = "S"
  }

  attribute {
    name = "open"
    type = "S"
  }

  attribute {
    name = "deadline_sort"
    type = "S"
  }

  global_secondary_index {
    name            = "by_tenant"
    hash_key        = "tenant"
    range_key       = "created_sort"
    projection_type = "ALL"
  }

  # Sparse: only queued and running jobs carry `open`; the janitor finds the overdue ones here
  # (their ids: it reads each job afresh).
  global_secondary_index {
    name            = "open_by_deadline"
    hash_key        = "open"
    range_key       = "deadline_sort"
    projection_type = "KEYS_ONLY"
  }

  ttl {
    attribute_name = "expires_at"
    enabled        = true
  }

  point_in_time_recovery {
    enabled = var.point_in_time_recovery_enabled
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = var.kms_key_arn
  }

  tags = var.tags
}

resource "aws_dynamodb_table" "api_keys" {
  #checkov:skip=CKV_AWS_119:Encrypted with the AWS managed DynamoDB key; a customer managed key can be supplied through kms_key_arn.
  name                        = "${var.name_prefix}-api-keys"
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "key_id"
  deletion_protection_enabled = var.deletion_protection_enabled

  attribute {
    name = "key_id"
    type = "S"
  }

  attribute {
    name = "tenant"
    type = "S"
  }

  global_secondary_index {
    name            = "by_tenant"
    hash_key        = "tenant"
    projection_type = "ALL"
  }

  ttl {
    attribute_name = "expires_at"
    enabled        = true
  }

  point_in_time_recovery {
    enabled = var.point_in_time_recovery_enabled
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = var.kms_key_arn
  }

  tags = var.tags
}

# Rate-limit buckets and quota counters.
resource "aws_dynamodb_table" "counters" {
  #checkov:skip=CKV_AWS_119:Encrypted with the AWS managed DynamoDB key; a customer managed key can be supplied through kms_key_arn.
  name                        = "${var.name_prefix}-counters"
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "pk"
  deletion_protection_enabled = var.deletion_protection_enabled

  attribute {
    name = "pk"
    type = "S"
  }

  ttl {
    attribute_name = "expires_at"
    enabled        = true
  }

  point_in_time_recovery {
    enabled = var.point_in_time_recovery_enabled
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = var.kms_key_arn
  }

  tags = var.tags
}

resource "aws_dynamodb_table" "idempotency" {
  #checkov:skip=CKV_AWS_119:Encrypted with the AWS managed DynamoDB key; a customer managed key can be supplied through kms_key_arn.
  name                        = "${var.name_prefix}-idempotency"
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "pk"
  deletion_protection_enabled = var.deletion_protection_enabled

  attribute {
    name = "pk"
    type = "S"
  }

  ttl {
    attribute_name = "expires_at"
    enabled        = true
  }

  point_in_time_recovery {
    enabled = var.point_in_time_recovery_enabled
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = var.kms_key_arn
  }

  tags = var.tags
}

# Webhooks: a tenant's signing secrets and each delivery attempt of a job's events, in one
# table; the range key orders a job's attempts so one query reads them all.
resource "aws_dynamodb_table" "webhooks" {
  #checkov:skip=CKV_AWS_119:Encrypted with the AWS managed DynamoDB key; a customer managed key can be supplied through kms_key_arn.
  name                        = "${var.name_prefix}-webhooks"
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "pk"
  range_key                   = "sk"
  deletion_protection_enabled = var.deletion_protection_enabled

  attribute {
    name = "pk"
    type = "S"
  }

  attribute {
    name = "sk"
    type = "S"
  }

  ttl {
    attribute_name = "expires_at"
    enabled        = true
  }

  point_in_time_recovery {
    enabled = var.point_in_time_recovery_enabled
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = var.kms_key_arn
  }

  tags = var.tags
}
