# The buckets' resources were declared in this root before modules/bucket existed. These blocks
# move them into the module calls, so an existing bootstrap keeps its state, artifact and
# access-log buckets (and their settings) instead of destroying and re-creating them.
# Data sources (the old tls_only and access_logs policy documents) have no state to move.

moved {
  from = aws_s3_bucket.this["state"]
  to   = module.buckets["state"].aws_s3_bucket.this
}

moved {
  from = aws_s3_bucket_public_access_block.this["state"]
  to   = module.buckets["state"].aws_s3_bucket_public_access_block.this
}

moved {
  from = aws_s3_bucket_ownership_controls.this["state"]
  to   = module.buckets["state"].aws_s3_bucket_ownership_controls.this
}

moved {
  from = aws_s3_bucket_server_side_encryption_configuration.this["state"]
  to   = module.buckets["state"].aws_s3_bucket_server_side_encryption_configuration.this
}

moved {
  from = aws_s3_bucket_versioning.this["state"]
  to   = module.buckets["state"].aws_s3_bucket_versioning.this
}

moved {
  from = aws_s3_bucket_lifecycle_configuration.this["state"]
  to   = module.buckets["state"].aws_s3_bucket_lifecycle_configuration.this
}

moved {
  from = aws_s3_bucket_logging.this["state"]
  to   = module.buckets["state"].aws_s3_bucket_logging.this[0]
}

moved {
  from = aws_s3_bucket_policy.this["state"]
  to   = module.buckets["state"].aws_s3_bucket_policy.this
}

moved {
  from = aws_s3_bucket.this["artifacts"]
  to   = module.buckets["artifacts"].aws_s3_bucket.this
}

moved {
  from = aws_s3_bucket_public_access_block.this["artifacts"]
  to   = module.buckets["artifacts"].aws_s3_bucket_public_access_block.this
}

moved {
  from = aws_s3_bucket_ownership_controls.this["artifacts"]
  to   = module.buckets["artifacts"].aws_s3_bucket_ownership_controls.this
}

moved {
  from = aws_s3_bucket_server_side_encryption_configuration.this["artifacts"]
  to   = module.buckets["artifacts"].aws_s3_bucket_server_side_encryption_configuration.this
}

moved {
  from = aws_s3_bucket_versioning.this["artifacts"]
  to   = module.buckets["artifacts"].aws_s3_bucket_versioning.this
}

moved {
  from = aws_s3_bucket_lifecycle_configuration.this["artifacts"]
  to   = module.buckets["artifacts"].aws_s3_bucket_lifecycle_configuration.this
}

moved {
  from = aws_s3_bucket_logging.this["artifacts"]
  to   = module.buckets["artifacts"].aws_s3_bucket_logging.this[0]
}

moved {
  from = aws_s3_bucket_policy.this["artifacts"]
  to   = module.buckets["artifacts"].aws_s3_bucket_policy.this
}

moved {
  from = aws_s3_bucket.access_logs
  to   = module.access_logs.aws_s3_bucket.this
}

moved {
  from = aws_s3_bucket_public_access_block.access_logs
  to   = module.access_logs.aws_s3_bucket_public_access_block.this
}

moved {
  from = aws_s3_bucket_ownership_controls.access_logs
  to   = module.access_logs.aws_s3_bucket_ownership_controls.this
}

moved {
  from = aws_s3_bucket_server_side_encryption_configuration.access_logs
  to   = module.access_logs.aws_s3_bucket_server_side_encryption_configuration.this
}

moved {
  from = aws_s3_bucket_versioning.access_logs
  to   = module.access_logs.aws_s3_bucket_versioning.this
}

moved {
  from = aws_s3_bucket_lifecycle_configuration.access_logs
  to   = module.access_logs.aws_s3_bucket_lifecycle_configuration.this
}

moved {
  from = aws_s3_bucket_policy.access_logs
  to   = module.access_logs.aws_s3_bucket_policy.this
}

# The GitHub OIDC provider was created inside modules/github_oidc, which now makes one role per
# call: the provider stays (the single deploy role it served is replaced by one per environment).
moved {
  from = module.github_oidc.aws_iam_openid_connect_provider.github
  to   = aws_iam_openid_connect_provider.github
}
