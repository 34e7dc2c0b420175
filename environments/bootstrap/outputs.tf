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

output "deploy_role_arns" {
  description = "ARN of each environment's deploy role: the AWS_DEPLOY_ROLE_ARN variable of its GitHub environment (.github/workflows/deploy.yml)."
  value       = { for e, role in module.deploy_roles : e => role.role_arn }
}

output "plan_role_arns" {
  description = "ARN of each environment's read-only plan role: the repository variables AWS_PLAN_ROLE_ARN_STAGING and AWS_PLAN_ROLE_ARN_PROD (pull request plans, and prod's plan before approval)."
  value       = { for e, role in module.plan_roles : e => role.role_arn }
}

output "permissions_boundary_arns" {
  description = "ARN of each environment's permissions boundary, which every role its deploy creates carries."
  value       = { for e, policy in aws_iam_policy.boundary : e => policy.arn }
}

output "github_oidc_provider_arn" {
  description = "ARN of the GitHub Actions OIDC provider."
  value       = local.github_oidc_provider_arn
}
