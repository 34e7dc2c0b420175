variable "name_prefix" {
  description = "Prefix of the table names, e.g. imagegen-staging (tables are `<prefix>-jobs`, `-api-keys`, `-counters`, `-idempotency`, `-webhooks`)."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]{3,200}$", var.name_prefix))
    error_message = "name_prefix must be 3-200 letters, digits, '_', '-' or '.'."
  }
}

variable "point_in_time_recovery_enabled" {
  description = "Whether point-in-time recovery (continuous backups) is enabled on every table."
  type        = bool
  default     = true
}

variable "deletion_protection_enabled" {
  description = "Whether the tables are protected against deletion."
  type        = bool
  default     = true
}

variable "kms_key_arn" {
  description = "ARN of a customer managed KMS key for the tables. null uses the AWS managed key (alias/aws/dynamodb)."
  type        = string
  default     = null

  validation {
    condition     = var.kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:", var.kms_key_arn))
    error_message = "kms_key_arn must be null or a KMS key ARN."
  }
}

variable "tags" {
  description = "Tags added to every resource of the module (on top of the provider's default_tags)."
  type        = map(string)
  default     = {}
}
