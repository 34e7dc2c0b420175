output "name" {
  description = "Name of the bucket, known at plan time; references to it wait for the bucket policy, so a bucket that logs here is set up after S3's log delivery is admitted."
  value       = aws_s3_bucket.this.bucket

  depends_on = [aws_s3_bucket_policy.this]
}

output "arn" {
  description = "ARN of the bucket."
  value       = aws_s3_bucket.this.arn
}

output "regional_domain_name" {
  description = "Regional domain name of the bucket (host of its presigned URLs, origin of a CloudFront distribution)."
  value       = aws_s3_bucket.this.bucket_regional_domain_name
}
