variable "create_oidc_provider" {
  description = "Whether to create the account's IAM OIDC provider for token.actions.githubusercontent.com. Set false and pass existing_oidc_provider_arn when the account already has one (only one may exist per URL)."
  type        = bool
  default     = true
}

variable "existing_oidc_provider_arn" {
  description = "ARN of an existing GitHub Actions OIDC provider; required when create_oidc_provider is false."
  type        = string
  default     = null

  validation {
    condition     = var.existing_oidc_provider_arn == null || can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:oidc-provider/token\\.actions\\.githubusercontent\\.com$", var.existing_oidc_provider_arn))
    error_message = "existing_oidc_provider_arn must be null or the ARN of the token.actions.githubusercontent.com OIDC provider."
  }

  validation {
    condition     = var.create_oidc_provider || var.existing_oidc_provider_arn != null
    error_message = "existing_oidc_provider_arn is required when create_oidc_provider is false."
  }
}

variable "repository" {
  description = "GitHub repository allowed to assume the role, as owner/name."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$", var.repository))
    error_message = "repository must look like owner/name."
  }
}

variable "environments" {
  description = "GitHub environments whose jobs may assume the role (`sub = repo:<repository>:environment:<name>`)."
  type        = list(string)

  validation {
    condition     = length(var.environments) > 0 && alltrue([for e in var.environments : can(regex("^[A-Za-z0-9_.-]+$", e))])
    error_message = "environments needs at least one name of letters, digits, '_', '-' or '.'."
  }
}

variable "role_name" {
  description = "Name of the deploy role."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9+=,.@_-]{1,64}$", var.role_name))
    error_message = "role_name must be a valid IAM role name (1-64 characters)."
  }
}

variable "max_session_duration" {
  description = "Maximum session duration of the role in seconds (3600-43200)."
  type        = number
  default     = 3600

  validation {
    condition     = var.max_session_duration >= 3600 && var.max_session_duration <= 43200
    error_message = "max_session_duration must be between 3600 and 43200."
  }
}

variable "permissions_boundary_arn" {
  description = "ARN of a managed policy used as the role's permissions boundary. null: none."
  type        = string
  default     = null
}

variable "policy_statements" {
  description = "IAM statements of the deploy role: exact actions on named resources. Wildcard actions are rejected; a \"*\" resource is allowed only for actions that support no resource-level permissions."
  type = list(object({
    sid       = string
    actions   = list(string)
    resources = list(string)
    conditions = optional(list(object({
      test     = string
      variable = string
      values   = list(string)
    })), [])
  }))

  validation {
    condition     = length(var.policy_statements) > 0
    error_message = "policy_statements needs at least one statement."
  }

  validation {
    condition     = alltrue([for s in var.policy_statements : can(regex("^[A-Za-z0-9]+$", s.sid))])
    error_message = "Each statement sid must be alphanumeric."
  }

  validation {
    condition     = alltrue([for s in var.policy_statements : length(s.actions) > 0 && alltrue([for a in s.actions : can(regex("^[a-z0-9-]+:[A-Za-z0-9]+$", a))])])
    error_message = "Each statement needs at least one action, and every action must be an exact service:Action name (no wildcards)."
  }

  validation {
    condition     = alltrue([for s in var.policy_statements : length(s.resources) > 0])
    error_message = "Each statement needs at least one resource."
  }
}

variable "statements_per_policy" {
  description = "Statements per managed policy; policy_statements are split into ceil(n / this) policies (at most 10, the default limit of policies per role), each within IAM's 6,144-character limit."
  type        = number
  default     = 8

  validation {
    condition     = var.statements_per_policy >= 1 && floor(var.statements_per_policy) == var.statements_per_policy
    error_message = "statements_per_policy must be a whole number >= 1."
  }

  validation {
    condition     = ceil(length(var.policy_statements) / var.statements_per_policy) <= 10
    error_message = "policy_statements would need more than 10 managed policies; raise statements_per_policy."
  }
}

variable "tags" {
  description = "Tags added to every resource of the module (on top of the provider's default_tags)."
  type        = map(string)
  default     = {}
}
