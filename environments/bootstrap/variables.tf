variable "aws_region" {
  description = "Region of the state and artifact buckets; must be the region the environments deploy to (Lambda reads its code from the artifact bucket)."
  type        = string
  default     = "eu-west-1"

  validation {
    condition     = can(regex("^[a-z]{2}(-gov)?-[a-z]+-[0-9]$", var.aws_region))
    error_message = "aws_region must be an AWS region name such as eu-west-1."
  }
}

variable "project" {
  description = "Project name; prefixes every bucket and resource name the deploy role may manage."
  type        = string
  default     = "imagegen"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{2,20}$", var.project))
    error_message = "project must be 3-21 lowercase letters, digits or hyphens, starting with a letter."
  }
}

variable "github_repository" {
  description = "GitHub repository (owner/name) whose workflows may assume the deploy and plan roles."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$", var.github_repository))
    error_message = "github_repository must look like owner/name."
  }
}

variable "deploy_environments" {
  description = "The environments (the roots under environments/), each with its own deploy role `<project>-deploy-<env>` and permissions boundary `<project>-<env>-boundary`: the GitHub environment whose jobs may assume the role (.github/workflows/deploy.yml deploys staging from `staging` and prod from `production`; give that one required reviewers), the git refs those jobs must run on, the Route 53 hosted zones the role may write records in (custom domain and certificate validation), and whether pull requests may plan it with its read-only plan role `<project>-plan-<env>` (which reads its state, secrets in it included; false: only main plans it)."
  type = map(object({
    github_environment    = string
    refs                  = optional(list(string), ["refs/heads/main"])
    hosted_zone_ids       = optional(list(string), [])
    plan_on_pull_requests = optional(bool, true)
  }))
  default = {
    staging = { github_environment = "staging" }
    prod    = { github_environment = "production" }
  }

  validation {
    # Not "deploy" or "plan": the roles are <project>-deploy-<env> and <project>-plan, outside
    # every environment's <project>-<env>- prefix.
    condition     = length(var.deploy_environments) > 0 && alltrue([for e in keys(var.deploy_environments) : can(regex("^[a-z][a-z0-9]{1,15}$", e)) && !contains(["deploy", "plan"], e)])
    error_message = "deploy_environments needs at least one environment, each named with 2-16 lowercase letters or digits (not deploy or plan)."
  }

  validation {
    condition     = alltrue([for e in values(var.deploy_environments) : can(regex("^[A-Za-z0-9_.-]+$", e.github_environment))])
    error_message = "Each github_environment must be letters, digits, '_', '-' or '.'."
  }

  validation {
    condition     = alltrue([for e in values(var.deploy_environments) : alltrue([for r in e.refs : can(regex("^refs/(heads|tags)/[A-Za-z0-9_./-]+$", r))])])
    error_message = "Each ref must be a full ref such as refs/heads/main, without wildcards."
  }

  validation {
    condition     = alltrue([for e in values(var.deploy_environments) : alltrue([for z in e.hosted_zone_ids : can(regex("^Z[A-Z0-9]{1,31}$", z))])])
    error_message = "Each hosted zone ID must look like Z...."
  }
}

variable "create_github_oidc_provider" {
  description = "Whether to create the account's GitHub Actions OIDC provider; false when it already exists."
  type        = bool
  default     = true
}

variable "existing_github_oidc_provider_arn" {
  description = "ARN of the existing GitHub Actions OIDC provider when create_github_oidc_provider is false."
  type        = string
  default     = null

  validation {
    condition     = var.create_github_oidc_provider || var.existing_github_oidc_provider_arn != null
    error_message = "existing_github_oidc_provider_arn is required when create_github_oidc_provider is false."
  }
}

variable "activate_cost_allocation_tags" {
  description = "Whether to activate Project and Environment as cost allocation tags, which each environment's budget and cost anomaly monitor filter on. Billing lists a key for activation only once resources carry it (up to a day after the first deploy): set true then and apply again. In an AWS Organizations member account only the management account can activate them: leave this false there."
  type        = bool
  default     = false
}

variable "manage_apigateway_account_role" {
  description = "Whether to set the region-wide API Gateway CloudWatch Logs role here, once for every environment of the account."
  type        = bool
  default     = true
}

variable "plan_retention_days" {
  description = "Days a saved plan (plans/ in the artifact bucket, stored by `cargo xtask deploy --publish-plan`) is kept: long enough for its review and approval."
  type        = number
  default     = 14

  validation {
    condition     = var.plan_retention_days >= 1 && var.plan_retention_days <= 90
    error_message = "plan_retention_days must be between 1 and 90."
  }
}

variable "state_noncurrent_version_days" {
  description = "Days old state versions are kept before deletion."
  type        = number
  default     = 90

  validation {
    condition     = var.state_noncurrent_version_days >= 1
    error_message = "state_noncurrent_version_days must be >= 1."
  }
}

variable "artifact_noncurrent_version_days" {
  description = "Days overwritten or deleted Lambda artifacts are kept."
  type        = number
  default     = 30

  validation {
    condition     = var.artifact_noncurrent_version_days >= 1
    error_message = "artifact_noncurrent_version_days must be >= 1."
  }
}

variable "access_log_retention_days" {
  description = "Days S3 server access logs are kept."
  type        = number
  default     = 365

  validation {
    condition     = var.access_log_retention_days >= 1
    error_message = "access_log_retention_days must be >= 1."
  }
}
