output "role_arn" {
  description = "ARN of the role (the role-to-assume of aws-actions/configure-aws-credentials)."
  value       = aws_iam_role.this.arn
}

output "role_name" {
  description = "Name of the role."
  value       = aws_iam_role.this.name
}

output "policy_arns" {
  description = "ARNs of the managed policies attached to the role."
  value       = aws_iam_policy.this[*].arn
}
