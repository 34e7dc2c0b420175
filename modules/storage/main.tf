# The image bucket: the project's hardened bucket (modules/bucket) with the image lifecycle,
# optional CORS for browsers using presigned URLs, and optional read access for the download
# distribution.

module "bucket" {
  source = "../bucket"

  name               = var.bucket_name
  force_destroy      = var.force_destroy
  kms_key_arn        = var.kms_key_arn
  versioning_enabled = var.versioning_enabled
  access_log_bucket  = var.access_log_bucket
  access_log_prefix  = var.access_log_prefix
  policy_documents   = data.aws_iam_policy_document.cloudfront[*].json
  tags               = var.tags

  abort_incomplete_multipart_days = var.abort_incomplete_multipart_days
  lifecycle_rules = [
    {
      id              = "expire-generated"
      prefix          = "generated/"
      expiration_days = var.generated_expiration_days
    },
    {
      id              = "expire-uploads"
      prefix          = "uploads/"
      expiration_days = var.uploads_expiration_days
    },
    {
      id                                 = "expire-noncurrent-versions"
      noncurrent_version_expiration_days = var.noncurrent_version_expiration_days
      expired_object_delete_marker       = true
    },
  ]
}

# The download distribution (modules/downloads) reads generated images through its origin
# access control: GetObject on generated/ only, and only for that distribution. Objects are
# SSE-S3; under SSE-KMS with a customer key (kms_key_arn) the key's policy would also have to
# let cloudfront.amazonaws.com kms:Decrypt for this distribution, which this module does not
# manage (a variable validation refuses the combination). The count is a static switch, so the
# policy's shape never waits for the distribution's ARN.
data "aws_iam_policy_document" "cloudfront" {
  count = var.cloudfront_downloads_enabled ? 1 : 0

  statement {
    sid       = "CloudFrontReadsGenerated"
    effect    = "Allow"
    actions   = ["s3:GetObject"]
    resources = ["${module.bucket.arn}/generated/*"]

    principals {
      type        = "Service"
      identifiers = ["cloudfront.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "AWS:SourceArn"
      values   = [var.cloudfront_distribution_arn]
    }
  }
}

resource "aws_s3_bucket_cors_configuration" "this" {
  count = length(var.cors_allowed_origins) > 0 ? 1 : 0

  bucket = module.bucket.name

  cors_rule {
    allowed_methods = ["GET", "PUT", "HEAD"]
    allowed_origins = var.cors_allowed_origins
    allowed_headers = ["content-type", "content-length", "content-md5", "x-amz-*"]
    expose_headers  = ["ETag"]
    max_age_seconds = var.cors_max_age_seconds
  }
}
