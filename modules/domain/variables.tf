variable "domain_name" {
  description = "Fully qualified domain name of the API, e.g. api.example.com."
  type        = string

  validation {
    condition     = can(regex("^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z]{2,63}$", var.domain_name))
    error_message = "domain_name must be a lowercase fully qualified domain name."
  }
}

variable "hosted_zone_id" {
  description = "ID of the public Route 53 hosted zone that holds domain_name."
  type        = string

  validation {
    condition     = can(regex("^Z[A-Z0-9]{1,31}$", var.hosted_zone_id))
    error_message = "hosted_zone_id must be a Route 53 hosted zone ID (Z...)."
  }
}

variable "rest_api_id" {
  description = "ID of the REST API to serve under the domain."
  type        = string
}

variable "stage_name" {
  description = "Stage of the REST API to serve under the domain."
  type        = string
}

variable "base_path" {
  description = "Base path of the API under the domain; empty serves it at the root."
  type        = string
  default     = ""

  validation {
    condition     = can(regex("^[A-Za-z0-9._-]*$", var.base_path))
    error_message = "base_path must be empty or a single path segment without slashes."
  }
}

variable "cloudfront_enabled" {
  description = "Whether to put a CloudFront distribution in front of the API (certificate in us-east-1, caching disabled, all viewer headers but Host forwarded). When false, a regional API Gateway custom domain is used."
  type        = bool
  default     = false
}

variable "cloudfront_price_class" {
  description = "Price class of the CloudFront distribution."
  type        = string
  default     = "PriceClass_100"

  validation {
    condition     = contains(["PriceClass_100", "PriceClass_200", "PriceClass_All"], var.cloudfront_price_class)
    error_message = "cloudfront_price_class must be PriceClass_100, PriceClass_200 or PriceClass_All."
  }
}

variable "cloudfront_web_acl_arn" {
  description = "ARN of a CLOUDFRONT-scope WAF web ACL (created in us-east-1) for the distribution. null: none."
  type        = string
  default     = null

  validation {
    condition     = var.cloudfront_web_acl_arn == null || can(regex("^arn:aws[a-z-]*:wafv2:us-east-1:[0-9]{12}:global/webacl/", var.cloudfront_web_acl_arn))
    error_message = "cloudfront_web_acl_arn must be null or a global (CLOUDFRONT scope) WAFv2 web ACL ARN."
  }
}

variable "tags" {
  description = "Tags added to every resource of the module (on top of the provider's default_tags)."
  type        = map(string)
  default     = {}
}
