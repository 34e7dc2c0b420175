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
  description = "GitHub repository (owner/name) whose deploy workflow may assume the deploy role."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$", var.github_repository))
    error_message = "github_repository must look like owner/name."
  }
}

variable "environments" {
  description = "Deployment environments (the roots under environments/): the `<project>-<environment>-` name prefixes the deploy role may manage."
  type        = list(string)
  default     = ["staging", "prod"]

  validation {
    condition     = length(var.environments) > 0 && alltrue([for e in var.environments : can(regex("^[a-z][a-z0-9]{1,15}$", e))])
    error_message = "environments must be lowercase alphanumeric names of 2-16 characters."
  }
}

variable "github_environments" {
  description = "GitHub environments whose jobs may assume the deploy role: .github/workflows/deploy.yml deploys staging from `staging` and prod from `production` (give it required reviewers)."
  type        = list(string)
  default     = ["staging", "production"]

  validation {
    condition     = length(var.github_environments) > 0 && alltrue([for e in var.github_environments : can(regex("^[A-Za-z0-9_.-]+$", e))])
    error_message = "github_environments needs at least one name of letters, digits, '_', '-' or '.'."
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
}

variable "route53_hosted_zone_ids" {
  description = "Route 53 hosted zones in which the deploy role may write records (custom domain and certificate validation)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for z in var.route53_hosted_zone_ids : can(regex("^Z[A-Z0-9]{1,31}$", z))])
    error_message = "Each hosted zone ID must look like Z...."
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
