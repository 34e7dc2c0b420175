variable "bucket_name" {
  description = "Name of the image bucket (globally unique)."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$", var.bucket_name))
    error_message = "bucket_name must be 3-63 lowercase letters, digits or hyphens, starting and ending with a letter or digit."
  }
}

variable "force_destroy" {
  description = "Whether `terraform destroy` may delete the bucket while it still holds objects."
  type        = bool
  default     = false
}

variable "versioning_enabled" {
  description = "Whether object versioning is enabled (noncurrent versions expire after noncurrent_version_expiration_days)."
  type        = bool
  default     = true
}

variable "kms_key_arn" {
  description = "ARN of a KMS key for SSE-KMS. null uses SSE-S3 (AES256)."
  type        = string
  default     = null

  validation {
    condition     = var.kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:", var.kms_key_arn))
    error_message = "kms_key_arn must be null or a KMS key ARN."
  }
}

variable "generated_expiration_days" {
  description = "Days after which generated images (generated/) expire."
  type        = number
  default     = 30

  validation {
    condition     = var.generated_expiration_days >= 1 && floor(var.generated_expiration_days) == var.generated_expiration_days
    error_message = "generated_expiration_days must be a whole number >= 1."
  }
}

variable "uploads_expiration_days" {
  description = "Days after which reference uploads (uploads/) expire."
  type        = number
  default     = 1

  validation {
    condition     = var.uploads_expiration_days >= 1 && floor(var.uploads_expiration_days) == var.uploads_expiration_days
    error_message = "uploads_expiration_days must be a whole number >= 1."
  }
}

variable "abort_incomplete_multipart_days" {
  description = "Days after which incomplete multipart uploads are aborted."
  type        = number
  default     = 1

  validation {
    condition     = var.abort_incomplete_multipart_days >= 1 && floor(var.abort_incomplete_multipart_days) == var.abort_incomplete_multipart_days
    error_message = "abort_incomplete_multipart_days must be a whole number >= 1."
  }
}

variable "noncurrent_version_expiration_days" {
  description = "Days after which noncurrent object versions are deleted."
  type        = number
  default     = 7

  validation {
    condition     = var.noncurrent_version_expiration_days >= 1 && floor(var.noncurrent_version_expiration_days) == var.noncurrent_version_expiration_days
    error_message = "noncurrent_version_expiration_days must be a whole number >= 1."
  }
}

variable "cors_allowed_origins" {
  description = "Origins allowed to use signed URLs from a browser (GET, PUT, HEAD). Empty list: no CORS configuration."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for o in var.cors_allowed_origins : can(regex("^https?://[^/]+$", o))])
    error_message = "Each CORS origin must be a scheme and host without a path, e.g. https://app.example.com."
  }
}

variable "cors_max_age_seconds" {
  description = "How long browsers may cache the CORS preflight response."
  type        = number
  default     = 3600

  validation {
    condition     = var.cors_max_age_seconds >= 0
    error_message = "cors_max_age_seconds must be >= 0."
  }
}

variable "access_log_bucket" {
  description = "Name of the bucket that receives S3 server access logs. null disables access logging."
  type        = string
  default     = null

  validation {
    condition     = var.access_log_bucket == null || can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.access_log_bucket))
    error_message = "access_log_bucket must be null or a valid S3 bucket name."
  }
}

variable "access_log_prefix" {
  description = "Key prefix of the access logs in access_log_bucket. null uses `s3/<bucket_name>/`."
  type        = string
  default     = null
}

variable "cloudfront_downloads_enabled" {
  description = "Whether the bucket policy lets the download distribution (cloudfront_distribution_arn) read generated/ objects through its origin access control. A static switch, so the policy's shape never waits for the distribution's ARN."
  type        = bool
  default     = false

  validation {
    condition     = !var.cloudfront_downloads_enabled || var.kms_key_arn == null
    error_message = "cloudfront_downloads_enabled needs SSE-S3 (kms_key_arn = null): with a customer KMS key, the key policy must also let CloudFront decrypt, which this module does not manage."
  }
}

variable "cloudfront_distribution_arn" {
  description = "ARN of the CloudFront distribution that serves downloads; required when cloudfront_downloads_enabled."
  type        = string
  default     = null

  validation {
    condition     = !var.cloudfront_downloads_enabled || can(regex("^arn:aws[a-z-]*:cloudfront::[0-9]{12}:distribution/[A-Z0-9]+$", var.cloudfront_distribution_arn))
    error_message = "cloudfront_distribution_arn must be a CloudFront distribution ARN when cloudfront_downloads_enabled is true."
  }
}

variable "tags" {
  description = "Tags added to every resource of the module (on top of the provider's default_tags)."
  type        = map(string)
  default     = {}
}
