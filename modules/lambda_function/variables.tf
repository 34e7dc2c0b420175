variable "function_name" {
  description = "Name of the Lambda function. Also names its IAM role and its log group `/aws/lambda/<function_name>`."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,64}$", var.function_name))
    error_message = "function_name must be 1-64 characters of letters, digits, hyphens and underscores."
  }
}

variable "description" {
  description = "Description of the Lambda function."
  type        = string
  default     = ""

  validation {
    condition     = length(var.description) <= 256
    error_message = "description must be at most 256 characters."
  }
}

variable "architecture" {
  description = "Instruction set of the function: x86_64 or arm64. Must match the target the bootstrap binary was built for."
  type        = string
  default     = "x86_64"

  validation {
    condition     = contains(["x86_64", "arm64"], var.architecture)
    error_message = "architecture must be x86_64 or arm64."
  }
}

variable "s3_bucket" {
  description = "S3 bucket that holds the deployment package (in the same region as the function)."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.s3_bucket))
    error_message = "s3_bucket must be a valid S3 bucket name."
  }
}

variable "s3_key" {
  description = "S3 key of the deployment package zip, e.g. `lambda/<sha256hex>.zip`."
  type        = string

  validation {
    condition     = endswith(var.s3_key, ".zip") && !startswith(var.s3_key, "/")
    error_message = "s3_key must be a relative key of a .zip object."
  }
}

variable "source_code_hash" {
  description = "Base64-encoded SHA-256 of the deployment package (Terraform's filebase64sha256 format). A change publishes a new version."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9+/]{43}=$", var.source_code_hash))
    error_message = "source_code_hash must be a base64-encoded SHA-256 digest (44 characters ending in '=')."
  }
}

variable "memory_size" {
  description = "Memory in MB available to the function (128-10240)."
  type        = number
  default     = 256

  validation {
    condition     = var.memory_size >= 128 && var.memory_size <= 10240 && floor(var.memory_size) == var.memory_size
    error_message = "memory_size must be a whole number between 128 and 10240."
  }
}

variable "timeout" {
  description = "Function timeout in seconds (1-900)."
  type        = number
  default     = 30

  validation {
    condition     = var.timeout >= 1 && var.timeout <= 900 && floor(var.timeout) == var.timeout
    error_message = "timeout must be a whole number of seconds between 1 and 900."
  }
}

variable "reserved_concurrent_executions" {
  description = "Reserved concurrency for the function; caps concurrent executions and protects the rest of the account. -1 removes the reservation, 0 disables the function."
  type        = number
  default     = 10

  validation {
    condition     = var.reserved_concurrent_executions >= -1 && floor(var.reserved_concurrent_executions) == var.reserved_concurrent_executions
    error_message = "reserved_concurrent_executions must be a whole number >= -1."
  }
}

variable "environment_variables" {
  description = "Environment variables of the function. Never put secrets here: pass a Secrets Manager ARN instead."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for k in keys(var.environment_variables) : can(regex("^[A-Za-z][A-Za-z0-9_]*$", k))])
    error_message = "Environment variable names must start with a letter and contain only letters, digits and underscores."
  }
}

variable "kms_key_arn" {
  description = "ARN of a customer managed KMS key that encrypts the environment variables at rest. null uses the AWS managed key for Lambda."
  type        = string
  default     = null

  validation {
    condition     = var.kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:", var.kms_key_arn))
    error_message = "kms_key_arn must be null or a KMS key ARN."
  }
}

variable "log_retention_days" {
  description = "Retention in days of the function's log group. Must be a value CloudWatch Logs accepts."
  type        = number
  default     = 14

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be one of 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653."
  }
}

variable "log_kms_key_arn" {
  description = "ARN of a KMS key that encrypts the log group. null uses CloudWatch Logs' default encryption. The key policy must allow the logs service principal."
  type        = string
  default     = null

  validation {
    condition     = var.log_kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:", var.log_kms_key_arn))
    error_message = "log_kms_key_arn must be null or a KMS key ARN."
  }
}

variable "application_log_level" {
  description = "Minimum level of application logs Lambda forwards (JSON log format); exposed to the code as AWS_LAMBDA_LOG_LEVEL."
  type        = string
  default     = "INFO"

  validation {
    condition     = contains(["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"], var.application_log_level)
    error_message = "application_log_level must be one of TRACE, DEBUG, INFO, WARN, ERROR, FATAL."
  }
}

variable "policy_statements" {
  description = "Extra IAM statements for the function's role: exact actions on exact resources. Wildcard actions are rejected."
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
  default = []

  validation {
    condition     = alltrue([for s in var.policy_statements : can(regex("^[A-Za-z0-9]+$", s.sid))])
    error_message = "Each statement sid must be alphanumeric."
  }

  validation {
    condition     = alltrue([for s in var.policy_statements : length(s.actions) > 0 && alltrue([for a in s.actions : can(regex("^[a-z0-9-]+:[A-Za-z0-9]+$", a))])])
    error_message = "Each statement needs at least one action, and every action must be an exact service:Action name (no wildcards)."
  }

  validation {
    condition     = alltrue([for s in var.policy_statements : length(s.resources) > 0 && !contains(s.resources, "*")])
    error_message = "Each statement needs at least one resource, and \"*\" is not allowed: name the resources."
  }
}

variable "tags" {
  description = "Tags added to every resource of the module (on top of the provider's default_tags)."
  type        = map(string)
  default     = {}
}

variable "permissions_boundary_arn" {
  description = "ARN of the permissions boundary the execution role carries (environments/bootstrap creates one per environment; its deploy role may create roles only with it)."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:policy/.+$", var.permissions_boundary_arn))
    error_message = "permissions_boundary_arn must be the ARN of a managed IAM policy."
  }
}
