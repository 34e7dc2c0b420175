variable "name_prefix" {
  description = "Prefix of the CloudFront resource names, e.g. imagegen-staging (each name must be unique in the account)."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{3,40}$", var.name_prefix))
    error_message = "name_prefix must be 3-40 letters, digits, hyphens or underscores (origin access control names are limited to 64 characters)."
  }
}

variable "bucket_regional_domain_name" {
  description = "Regional domain name of the image bucket (the distribution's only origin), e.g. imagegen-staging-images-123456789012.s3.eu-west-1.amazonaws.com."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]\\.s3(\\.[a-z0-9-]+)?\\.amazonaws\\.com(\\.cn)?$", var.bucket_regional_domain_name))
    error_message = "bucket_regional_domain_name must be a bucket's regional domain name, <bucket>.s3[.<region>].amazonaws.com."
  }
}

variable "signing_key_secret_arn" {
  description = "ARN of the Secrets Manager secret (its container only) that receives the signing key as JSON {key_pair_id, private_key_pem}; the api function reads it to sign download URLs."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:", var.signing_key_secret_arn))
    error_message = "signing_key_secret_arn must be a Secrets Manager secret ARN."
  }
}

variable "price_class" {
  description = "Price class of the distribution (the edge locations that serve downloads)."
  type        = string
  default     = "PriceClass_100"

  validation {
    condition     = contains(["PriceClass_100", "PriceClass_200", "PriceClass_All"], var.price_class)
    error_message = "price_class must be PriceClass_100, PriceClass_200 or PriceClass_All."
  }
}

variable "cors_allowed_origins" {
  description = "Browser origins allowed to read downloads with fetch/XHR (CORS headers on GET and HEAD). Empty list: no CORS headers (plain links and img elements need none)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for o in var.cors_allowed_origins : can(regex("^https?://[^/]+$", o))])
    error_message = "Each CORS origin must be a scheme and host without a path, e.g. https://app.example.com."
  }
}

variable "tags" {
  description = "Tags added to the distribution, the module's only taggable resource (on top of the provider's default_tags)."
  type        = map(string)
  default     = {}
}
