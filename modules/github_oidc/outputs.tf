output "role_arn" {
  description = "ARN of the deploy role (the role-to-assume of aws-actions/configure-aws-credentials)."
  value       = aws_iam_role.deploy.arn
}

output "role_name" {
  description = "Name of the deploy role."
  value       = aws_iam_role.deploy.name
}

output "provider_arn" {
  description = "ARN of the GitHub Actions OIDC provider (created or existing)."
  value       = local.provider_arn
}

output "policy_arns" {
  description = "ARNs of the managed policies attached to the deploy role."
  value       = aws_iam_policy.deploy[*].arn
}
