output "domain_name" {
  description = "Custom domain name of the API."
  value       = var.domain_name
}

output "api_url" {
  description = "HTTPS base URL of the API under the custom domain."
  value       = var.base_path == "" ? "https://${var.domain_name}" : "https://${var.domain_name}/${var.base_path}"
}

output "certificate_arn" {
  description = "ARN of the validated ACM certificate (in us-east-1 when CloudFront is enabled)."
  value       = local.certificate_arn
}

output "cloudfront_domain_name" {
  description = "Domain name of the CloudFront distribution, or null when CloudFront is disabled."
  value       = one(aws_cloudfront_distribution.this[*].domain_name)
}

output "cloudfront_distribution_id" {
  description = "ID of the CloudFront distribution, or null when CloudFront is disabled."
  value       = one(aws_cloudfront_distribution.this[*].id)
}
