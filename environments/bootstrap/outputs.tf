output "state_bucket" {
  description = "Name of the Terraform state bucket (the bucket of the environments' backend.tf)."
  value       = module.buckets["state"].name
}

output "artifact_bucket" {
  description = "Name of the Lambda artifact bucket (`cargo xtask deploy` uploads `lambda/<sha256>.zip` here)."
  value       = module.buckets["artifacts"].name
}

output "access_log_bucket" {
  description = "Name of the bucket that receives S3 server access logs."
  value       = module.access_logs.name
}

output "deploy_role_arn" {
  description = "ARN of the GitHub Actions deploy role (role-to-assume in .github/workflows/deploy.yml)."
  value       = module.github_oidc.role_arn
}

output "github_oidc_provider_arn" {
  description = "ARN of the GitHub Actions OIDC provider."
  value       = module.github_oidc.provider_arn
}
