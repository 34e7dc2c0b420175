variable "name" {
  description = "Name of the bucket (globally unique)."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$", var.name))
    error_message = "name must be 3-63 lowercase letters, digits or hyphens, starting and ending with a letter or digit."
  }
}

variable "force_destroy" {
  description = "Whether `terraform destroy` may delete the bucket while it still holds objects."
  type        = bool
  default     = false
}

variable "kms_key_arn" {
  description = "ARN of a KMS key for SSE-KMS. null uses SSE-S3 (AES256), which a bucket that receives S3 server access logs must use."
  type        = string
  default     = null

  validation {
    condition     = var.kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:", var.kms_key_arn))
    error_message = "kms_key_arn must be null or a KMS key ARN."
  }
}

variable "versioning_enabled" {
  description = "Whether object versioning is enabled."
  type        = bool
  default     = true
}

variable "abort_incomplete_multipart_days" {
  description = "Days after which incomplete multipart uploads are aborted (the lifecycle rule every bucket has)."
  type        = number
  default     = 1

  validation {
    condition     = var.abort_incomplete_multipart_days >= 1 && floor(var.abort_incomplete_multipart_days) == var.abort_incomplete_multipart_days
    error_message = "abort_incomplete_multipart_days must be a whole number >= 1."
  }
}

variable "lifecycle_rules" {
  description = "Lifecycle rules after the one that aborts incomplete multipart uploads, in order. Each has an id, an optional key prefix (null: the whole bucket) and at least one action: expiration_days or expired_object_delete_marker (not both), noncurrent_version_expiration_days."
  type = list(object({
    id                                 = string
    prefix                             = optional(string)
    expiration_days                    = optional(number)
    expired_object_delete_marker       = optional(bool)
    noncurrent_version_expiration_days = optional(number)
  }))
  default = [
    {
      id                                 = "expire-noncurrent-versions"
      noncurrent_version_expiration_days = 30
    },
  ]

  validation {
    condition     = length(distinct([for r in var.lifecycle_rules : r.id])) == length(var.lifecycle_rules) && alltrue([for r in var.lifecycle_rules : r.id != "abort-incomplete-multipart-uploads" && can(regex("^[A-Za-z0-9._-]{1,255}$", r.id))])
    error_message = "Lifecycle rule ids must be unique, 1-255 letters, digits, '.', '_' or '-', and not abort-incomplete-multipart-uploads (the module's own rule)."
  }

  validation {
    condition = alltrue([for r in var.lifecycle_rules : anytrue([
      r.expiration_days != null,
      r.expired_object_delete_marker == true,
      r.noncurrent_version_expiration_days != null,
    ])])
    error_message = "Every lifecycle rule needs at least one action."
  }

  validation {
    condition     = alltrue([for r in var.lifecycle_rules : r.expiration_days == null || r.expired_object_delete_marker == null])
    error_message = "A lifecycle rule sets expiration_days or expired_object_delete_marker, not both (S3 refuses both in one expiration)."
  }

  validation {
    condition = alltrue(flatten([for r in var.lifecycle_rules : [
      for d in [r.expiration_days, r.noncurrent_version_expiration_days] : d >= 1 && floor(d) == d if d != null
    ]]))
    error_message = "Lifecycle days must be whole numbers >= 1."
  }
}

variable "access_log_bucket" {
  description = "Name of the bucket that receives this bucket's S3 server access logs. null disables access logging (as for the access-log bucket itself). Must be known at plan time."
  type        = string
  default     = null

  validation {
    condition     = var.access_log_bucket == null || can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.access_log_bucket))
    error_message = "access_log_bucket must be null or a valid S3 bucket name."
  }
}

variable "access_log_prefix" {
  description = "Key prefix of the access logs in access_log_bucket. null uses `s3/<name>/`."
  type        = string
  default     = null
}

variable "policy_documents" {
  description = "Further bucket policy documents (JSON, e.g. aws_iam_policy_document.json) merged into the bucket policy before the module's DenyInsecureTransport and DenyOutdatedTls statements; their sids must be unique."
  type        = list(string)
  default     = []
}

variable "tags" {
  description = "Tags of the bucket (on top of the provider's default_tags)."
  type        = map(string)
  default     = {}
}
