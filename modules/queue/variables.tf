variable "name" {
  description = "Name of the jobs queue; the dead-letter queue is `<name>-dlq`, the webhook queue `<name>-webhooks` and its dead-letter queue `<name>-webhooks-dlq`."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,67}$", var.name))
    error_message = "name must be 1-67 letters, digits, hyphens or underscores (room for the -webhooks-dlq suffix within SQS's 80 characters)."
  }
}

variable "worker_timeout_seconds" {
  description = "Timeout of the worker function in seconds; the queue's visibility timeout is six times this plus the batching window (AWS guidance for Lambda event sources)."
  type        = number

  validation {
    condition     = var.worker_timeout_seconds >= 1 && var.worker_timeout_seconds <= 900 && floor(var.worker_timeout_seconds) == var.worker_timeout_seconds
    error_message = "worker_timeout_seconds must be a whole number between 1 and 900."
  }
}

variable "max_receive_count" {
  description = "Receives after which a message moves to the dead-letter queue."
  type        = number
  default     = 3

  validation {
    condition     = var.max_receive_count >= 1 && var.max_receive_count <= 1000 && floor(var.max_receive_count) == var.max_receive_count
    error_message = "max_receive_count must be a whole number between 1 and 1000."
  }
}

variable "message_retention_seconds" {
  description = "How long the jobs queue and the webhook queue keep a message (60-1209600 seconds)."
  type        = number
  default     = 345600

  validation {
    condition     = var.message_retention_seconds >= 60 && var.message_retention_seconds <= 1209600
    error_message = "message_retention_seconds must be between 60 and 1209600."
  }
}

variable "kms_key_arn" {
  description = "ARN of a customer managed KMS key for every queue of the module. null uses SQS managed encryption (SSE-SQS)."
  type        = string
  default     = null

  validation {
    condition     = var.kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:", var.kms_key_arn))
    error_message = "kms_key_arn must be null or a KMS key ARN."
  }
}

variable "worker_function_arn" {
  description = "ARN of the worker function's alias that the event source mapping invokes."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:lambda:[a-z0-9-]+:[0-9]{12}:function:[A-Za-z0-9_-]+:[A-Za-z0-9_-]+$", var.worker_function_arn))
    error_message = "worker_function_arn must be a qualified Lambda function ARN (an alias ARN)."
  }
}

variable "worker_function_name" {
  description = "Name of the worker function (the janitor's schedule may invoke its alias)."
  type        = string
}

variable "worker_alias_name" {
  description = "Alias of the worker function that worker_function_arn names."
  type        = string
}

variable "janitor_schedule_expression" {
  description = "How often the janitor runs in the worker function (EventBridge schedule expression)."
  type        = string
  default     = "rate(5 minutes)"
}

variable "batch_size" {
  description = "Messages per worker invocation (1-10000; above 10 needs a batching window of at least 1 second)."
  type        = number
  default     = 1

  validation {
    condition     = var.batch_size >= 1 && var.batch_size <= 10000 && floor(var.batch_size) == var.batch_size
    error_message = "batch_size must be a whole number between 1 and 10000."
  }
}

variable "maximum_batching_window_in_seconds" {
  description = "How long the event source mapping gathers messages before invoking (0-300 seconds)."
  type        = number
  default     = 0

  validation {
    condition     = var.maximum_batching_window_in_seconds >= 0 && var.maximum_batching_window_in_seconds <= 300
    error_message = "maximum_batching_window_in_seconds must be between 0 and 300."
  }
}

variable "maximum_concurrency" {
  description = "Most concurrent worker invocations the event source mapping starts (2-1000); keep it at or below the worker's reserved concurrency."
  type        = number
  default     = 5

  validation {
    condition     = var.maximum_concurrency >= 2 && var.maximum_concurrency <= 1000 && floor(var.maximum_concurrency) == var.maximum_concurrency
    error_message = "maximum_concurrency must be a whole number between 2 and 1000."
  }
}

variable "webhook_maximum_concurrency" {
  description = "Most concurrent worker invocations the webhook queue's event source mapping starts (2-1000); the worker's reserved concurrency must cover it and maximum_concurrency together."
  type        = number
  default     = 2

  validation {
    condition     = var.webhook_maximum_concurrency >= 2 && var.webhook_maximum_concurrency <= 1000 && floor(var.webhook_maximum_concurrency) == var.webhook_maximum_concurrency
    error_message = "webhook_maximum_concurrency must be a whole number between 2 and 1000."
  }
}

variable "tags" {
  description = "Tags added to every resource of the module (on top of the provider's default_tags)."
  type        = map(string)
  default     = {}
}
