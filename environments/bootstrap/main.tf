# One-time, per-account setup that the staging and prod roots rely on:
#   - the Terraform state bucket (S3 backend with use_lockfile, no DynamoDB lock table),
#   - the artifact bucket that `cargo xtask deploy` uploads lambda/<sha256>.zip to,
#   - the bucket that receives S3 server access logs of every project bucket,
#   - the region-wide API Gateway CloudWatch Logs role (a per-account singleton),
#   - the GitHub Actions OIDC deploy role.
# Bucket names follow <project>-<purpose>-<account id>; the environment roots derive the
# artifact and access-log bucket names with the same convention.

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  region     = var.aws_region
  p          = var.project

  buckets = {
    state = {
      name            = "${local.p}-tfstate-${local.account_id}"
      noncurrent_days = var.state_noncurrent_version_days
      extra_rules     = []
    }
    artifacts = {
      name            = "${local.p}-artifacts-${local.account_id}"
      noncurrent_days = var.artifact_noncurrent_version_days
      # A saved plan holds the state, secrets included: kept only as long as a review takes.
      extra_rules = [{
        id                                 = "expire-plans"
        prefix                             = "plans/"
        expiration_days                    = var.plan_retention_days
        noncurrent_version_expiration_days = 1
      }]
    }
  }
  access_log_bucket = "${local.p}-access-logs-${local.account_id}"
}

# --- State, artifact and access-log buckets (the hardening is modules/bucket's) ---

module "buckets" {
  source   = "../../modules/bucket"
  for_each = local.buckets

  name              = each.value.name
  access_log_bucket = module.access_logs.name
  tags              = { Purpose = each.key }

  lifecycle_rules = concat([{
    id                                 = "expire-noncurrent-versions"
    noncurrent_version_expiration_days = each.value.noncurrent_days
  }], each.value.extra_rules)
}

module "access_logs" {
  source = "../../modules/bucket"

  # No access_log_bucket: logging this bucket into itself would log its own log deliveries.
  name             = local.access_log_bucket
  policy_documents = [data.aws_iam_policy_document.access_log_delivery.json]
  tags             = { Purpose = "access-logs" }

  lifecycle_rules = [{
    id                                 = "expire-logs"
    expiration_days                    = var.access_log_retention_days
    noncurrent_version_expiration_days = 1
  }]
}

data "aws_iam_policy_document" "access_log_delivery" {
  statement {
    sid       = "S3ServerAccessLogsDelivery"
    effect    = "Allow"
    actions   = ["s3:PutObject"]
    resources = ["${module.access_logs.arn}/s3/*"]

    principals {
      type        = "Service"
      identifiers = ["logging.s3.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }

    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = ["arn:${local.partition}:s3:::${local.p}-*"]
    }
  }
}

# --- API Gateway account settings (one per account and region) ---

data "aws_iam_policy_document" "apigateway_assume" {
  statement {
    sid     = "ApiGatewayAssume"
    effect  = "Allow"
    actions = ["sts:AssumeRole"]

    # As AWS documents it: API Gateway assumes this role without a source-account context.
    principals {
      type        = "Service"
      identifiers = ["apigateway.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "apigateway_cloudwatch" {
  count = var.manage_apigateway_account_role ? 1 : 0

  name               = "${local.p}-apigateway-cloudwatch"
  description        = "Lets API Gateway write execution and access logs in ${local.region}"
  assume_role_policy = data.aws_iam_policy_document.apigateway_assume.json
}

data "aws_iam_policy_document" "apigateway_cloudwatch" {
  # The role serves every REST API of the account in this region, so it is scoped to
  # API Gateway's log group naming rather than to one API.
  statement {
    sid     = "WriteApiGatewayLogs"
    effect  = "Allow"
    actions = ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"]
    resources = [
      "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:API-Gateway-Execution-Logs_*",
      "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:/aws/apigateway/*",
    ]
  }

  # DescribeLogGroups is a list call: it only takes the account-wide log-group:* resource.
  statement {
    sid       = "DescribeLogGroups"
    effect    = "Allow"
    actions   = ["logs:DescribeLogGroups"]
    resources = ["arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:*"]
  }
}

resource "aws_iam_role_policy" "apigateway_cloudwatch" {
  count = var.manage_apigateway_account_role ? 1 : 0

  name   = "apigateway-cloudwatch-logs"
  role   = aws_iam_role.apigateway_cloudwatch[0].id
  policy = data.aws_iam_policy_document.apigateway_cloudwatch.json
}

resource "aws_api_gateway_account" "this" {
  count = var.manage_apigateway_account_role ? 1 : 0

  cloudwatch_role_arn = aws_iam_role.apigateway_cloudwatch[0].arn

  depends_on = [aws_iam_role_policy.apigateway_cloudwatch]
}

# --- Cost allocation tags (account-wide) ---

# The provider tags every resource of an environment with Project and Environment; the budgets
# and anomaly monitors of modules/cost select an environment's spend by them.
resource "aws_ce_cost_allocation_tag" "this" {
  for_each = var.activate_cost_allocation_tags ? toset(["Project", "Environment"]) : toset([])

  tag_key = each.value
  status  = "Active"
}

# --- GitHub Actions: one deploy role per environment, a read-only plan role ---

# AWS validates GitHub's tokens against its own trusted CAs, so no thumbprint is pinned.
resource "aws_iam_openid_connect_provider" "github" {
  count = var.create_github_oidc_provider ? 1 : 0

  url            = "https://token.actions.githubusercontent.com"
  client_id_list = ["sts.amazonaws.com"]
}

locals {
  github_oidc_provider_arn = var.create_github_oidc_provider ? aws_iam_openid_connect_provider.github[0].arn : var.existing_github_oidc_provider_arn
}

# Each environment's deploy role changes only that environment (deploy_policy.tf), for jobs of
# its GitHub environment on its refs. The role's own name is outside the `<project>-<env>-`
# prefix it may manage, so it cannot rewrite itself.
module "deploy_roles" {
  source   = "../../modules/github_oidc"
  for_each = var.deploy_environments

  provider_arn      = local.github_oidc_provider_arn
  repository        = var.github_repository
  subjects          = ["environment:${each.value.github_environment}"]
  refs              = each.value.refs
  role_name         = "${local.p}-deploy-${each.key}"
  description       = "Deploys ${each.key} from the GitHub environment ${each.value.github_environment} of ${var.github_repository}"
  policy_statements = local.deploy_statements[each.key]
  tags              = { Environment = each.key }
}

# One read-only plan role per environment (plan_policy.tf): pull requests of the repository plan
# every environment, and the prod plan of a push to main is made before anyone approves it. A
# pull request can change the workflow it runs, so whoever may push a branch may use these
# roles: each reads only its own environment, and an environment whose state should stay out
# of pull requests sets plan_on_pull_requests = false (its plan then runs from main only).
module "plan_roles" {
  source   = "../../modules/github_oidc"
  for_each = var.deploy_environments

  provider_arn      = local.github_oidc_provider_arn
  repository        = var.github_repository
  subjects          = each.value.plan_on_pull_requests ? ["pull_request", "ref:refs/heads/main"] : ["ref:refs/heads/main"]
  role_name         = "${local.p}-plan-${each.key}"
  description       = "Plans ${each.key}, read-only, for pull requests and main of ${var.github_repository}"
  policy_statements = local.plan_statements[each.key]
  tags              = { Environment = each.key }
}
