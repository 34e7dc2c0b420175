output "bucket_name" {
  description = "Name of the bucket."
  value       = module.bucket.name
}

output "bucket_arn" {
  description = "ARN of the bucket."
  value       = module.bucket.arn
}

output "bucket_regional_domain_name" {
  description = "Regional domain name of the bucket (host of its signed URLs)."
  value       = module.bucket.regional_domain_name
}
