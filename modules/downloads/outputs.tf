output "distribution_arn" {
  description = "ARN of the download distribution (the image bucket's policy admits its origin access control by this ARN)."
  value       = aws_cloudfront_distribution.this.arn
}

output "distribution_id" {
  description = "ID of the download distribution."
  value       = aws_cloudfront_distribution.this.id
}

output "domain_name" {
  description = "Domain name of the download distribution, e.g. d111111abcdef8.cloudfront.net; a download URL is `https://<domain_name>/<object key>` plus its signature."
  value       = aws_cloudfront_distribution.this.domain_name
}

output "key_pair_id" {
  description = "ID of the CloudFront public key that signed URLs name in Key-Pair-Id (not secret)."
  value       = aws_cloudfront_public_key.signing.id
}

output "key_group_id" {
  description = "ID of the key group the distribution trusts."
  value       = aws_cloudfront_key_group.this.id
}

output "response_headers_policy_id" {
  description = "ID of the response headers policy on every download."
  value       = aws_cloudfront_response_headers_policy.downloads.id
}
