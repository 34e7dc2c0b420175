# One private S3 bucket with the project's hardening: public access blocked, ACLs disabled
# (BucketOwnerEnforced), default encryption, versioning, a policy that denies plain HTTP and
# TLS older than 1.2, a lifecycle that aborts incomplete multipart uploads (then the caller's
# rules), and optional server access logging. Every bucket of the project is created through
# this module (environments/bootstrap, modules/storage).

resource "aws_s3_bucket" "this" {
  #checkov:skip=CKV_AWS_144:The project's buckets hold re-creatable or expiring data (images, artifacts, versioned state, access logs); cross-region replication is not worth its cost.
  #checkov:skip=CKV2_AWS_62:Nothing reacts to object events in the project's buckets.
  #checkov:skip=CKV_AWS_145:SSE-S3 (AES256) by default, the only encryption S3 server access logging delivers to; SSE-KMS with a customer key through kms_key_arn.
  #checkov:skip=CKV_AWS_18:Server access logging is aws_s3_bucket_logging, on when access_log_bucket is set; the access-log bucket itself does not log (it would log its own deliveries).
  bucket        = var.name
  force_destroy = var.force_destroy
  tags          = var.tags
}

resource "aws_s3_bucket_public_access_block" "this" {
  bucket = aws_s3_bucket.this.id

  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "this" {
  bucket = aws_s3_bucket.this.id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "this" {
  bucket = aws_s3_bucket.this.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = var.kms_key_arn == null ? "AES256" : "aws:kms"
      kms_master_key_id = var.kms_key_arn
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_versioning" "this" {
  bucket = aws_s3_bucket.this.id

  versioning_configuration {
    status = var.versioning_enabled ? "Enabled" : "Suspended"
  }
}

data "aws_iam_policy_document" "this" {
  # The caller's statements (policy_documents) first; the denies below cannot be overridden.
  source_policy_documents = var.policy_documents

  # Deny statements use s3:* on purpose: a deny cannot grant anything, and naming
  # individual actions would leave the others open over plain HTTP.
  statement {
    sid     = "DenyInsecureTransport"
    effect  = "Deny"
    actions = ["s3:*"]
    resources = [
      aws_s3_bucket.this.arn,
      "${aws_s3_bucket.this.arn}/*",
    ]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }

  statement {
    sid     = "DenyOutdatedTls"
    effect  = "Deny"
    actions = ["s3:*"]
    resources = [
      aws_s3_bucket.this.arn,
      "${aws_s3_bucket.this.arn}/*",
    ]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "NumericLessThan"
      variable = "s3:TlsVersion"
      values   = ["1.2"]
    }
  }
}

resource "aws_s3_bucket_policy" "this" {
  bucket = aws_s3_bucket.this.id
  policy = data.aws_iam_policy_document.this.json

  depends_on = [aws_s3_bucket_public_access_block.this]
}

resource "aws_s3_bucket_lifecycle_configuration" "this" {
  #checkov:skip=CKV_AWS_300:The first rule, written out below, aborts incomplete multipart uploads; checkov drops it when it renders the dynamic rules after it.
  bucket = aws_s3_bucket.this.id

  # Every bucket aborts incomplete multipart uploads, whose parts are billed but never visible.
  rule {
    id     = "abort-incomplete-multipart-uploads"
    status = "Enabled"

    filter {}

    abort_incomplete_multipart_upload {
      days_after_initiation = var.abort_incomplete_multipart_days
    }
  }

  dynamic "rule" {
    for_each = var.lifecycle_rules

    content {
      id     = rule.value.id
      status = "Enabled"

      # A null prefix is an empty filter: the rule covers the whole bucket.
      filter {
        prefix = rule.value.prefix
      }

      dynamic "expiration" {
        for_each = rule.value.expiration_days != null || rule.value.expired_object_delete_marker != null ? [1] : []

        content {
          days                         = rule.value.expiration_days
          expired_object_delete_marker = rule.value.expired_object_delete_marker
        }
      }

      dynamic "noncurrent_version_expiration" {
        for_each = rule.value.noncurrent_version_expiration_days == null ? [] : [1]

        content {
          noncurrent_days = rule.value.noncurrent_version_expiration_days
        }
      }
    }
  }

  depends_on = [aws_s3_bucket_versioning.this]
}

resource "aws_s3_bucket_logging" "this" {
  count = var.access_log_bucket == null ? 0 : 1

  bucket        = aws_s3_bucket.this.id
  target_bucket = var.access_log_bucket
  target_prefix = coalesce(var.access_log_prefix, "s3/${var.name}/")
}
