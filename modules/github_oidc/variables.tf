variable "provider_arn" {
  description = "ARN of the account's IAM OIDC provider for token.actions.githubusercontent.com."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:oidc-provider/token\\.actions\\.githubusercontent\\.com$", var.provider_arn))
    error_message = "provider_arn must be the ARN of the token.actions.githubusercontent.com OIDC provider."
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

variable "subjects" {
  description = "What may assume the role, as the part of GitHub's `sub` claim after `repo:<repository>:` (default subject template): `environment:<name>` for jobs of a GitHub environment, `pull_request` for pull requests of the repository (never forks: they get no token), `ref:refs/heads/<branch>` for other jobs of a branch. Matched exactly."
  type        = list(string)

  validation {
    condition     = length(var.subjects) > 0 && alltrue([for s in var.subjects : can(regex("^(environment:[A-Za-z0-9_.-]+|pull_request|ref:refs/(heads|tags)/[A-Za-z0-9_./-]+)$", s))])
    error_message = "subjects needs at least one of environment:<name>, pull_request or ref:refs/heads/<branch>, without wildcards."
  }
}

variable "refs" {
  description = "Git refs (e.g. refs/heads/main) the job must run on, checked on GitHub's `ref` claim; empty: any. An environment's subject does not name the branch, so this is how an environment's role is kept to main."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for r in var.refs : can(regex("^refs/(heads|tags)/[A-Za-z0-9_./-]+$", r))])
    error_message = "Each ref must be a full ref such as refs/heads/main, without wildcards."
  }
}

variable "description" {
  description = "Description of the role."
  type        = string
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
  description = "IAM statements of the role: exact actions on named resources. Wildcard actions are rejected; a \"*\" resource is allowed only for actions that support no resource-level permissions."
  type = list(object({
    sid       = string
    effect    = optional(string, "Allow")
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
    condition     = alltrue([for s in var.policy_statements : contains(["Allow", "Deny"], s.effect)])
    error_message = "Each statement's effect must be Allow or Deny."
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
