variable "name" {
  description = "Name of the secret, e.g. imagegen/staging/gemini-api-key."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9/_+=.@-]{1,512}$", var.name))
    error_message = "name must be 1-512 characters of letters, digits and /_+=.@-."
  }
}

variable "description" {
  description = "Description of the secret."
  type        = string
  default     = "Gemini API key; the value is set outside Terraform with `cargo xtask secrets set-gemini-key`."
}

variable "recovery_window_in_days" {
  description = "Days a deleted secret can still be restored: 0 (delete at once) or 7-30."
  type        = number
  default     = 30

  validation {
    condition     = var.recovery_window_in_days == 0 || (var.recovery_window_in_days >= 7 && var.recovery_window_in_days <= 30)
    error_message = "recovery_window_in_days must be 0 or between 7 and 30."
  }
}

variable "kms_key_arn" {
  description = "ARN of a customer managed KMS key for the secret. null uses the AWS managed key (aws/secretsmanager)."
  type        = string
  default     = null

  validation {
    condition     = var.kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:", var.kms_key_arn))
    error_message = "kms_key_arn must be null or a KMS key ARN."
  }
}

variable "reader_role_arns" {
  description = "IAM role ARNs allowed to read the secret value; GetSecretValue is denied to every other principal unless deny_other_readers is false."
  type        = list(string)

  validation {
    condition     = length(var.reader_role_arns) > 0
    error_message = "reader_role_arns needs at least one role."
  }

  validation {
    condition     = alltrue([for a in var.reader_role_arns : can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:role/", a))])
    error_message = "Each reader must be an IAM role ARN."
  }
}

variable "deny_other_readers" {
  description = "Whether the resource policy denies GetSecretValue to every principal but reader_role_arns. Set false only for a value Terraform writes: the AWS provider reads a secret version back with GetSecretValue (after writing it and on every refresh), so the principal that applies Terraform, which holds the value in its state anyway, must be able to read it."
  type        = bool
  default     = true
}

variable "tags" {
  description = "Tags added to every resource of the module (on top of the provider's default_tags)."
  type        = map(string)
  default     = {}
}
