locals {
  issuer       = "token.actions.githubusercontent.com"
  provider_arn = var.create_oidc_provider ? aws_iam_openid_connect_provider.github[0].arn : var.existing_oidc_provider_arn
}

# AWS validates GitHub's tokens against its own trusted CAs, so no thumbprint is pinned.
resource "aws_iam_openid_connect_provider" "github" {
  count = var.create_oidc_provider ? 1 : 0

  url            = "https://${local.issuer}"
  client_id_list = ["sts.amazonaws.com"]
  tags           = var.tags
}

data "aws_iam_policy_document" "assume" {
  statement {
    sid     = "GitHubActionsEnvironments"
    effect  = "Allow"
    actions = ["sts:AssumeRoleWithWebIdentity"]

    principals {
      type        = "Federated"
      identifiers = [local.provider_arn]
    }

    condition {
      test     = "StringEquals"
      variable = "${local.issuer}:aud"
      values   = ["sts.amazonaws.com"]
    }

    # Only jobs that run in one of the named GitHub environments (which can require
    # reviewers, e.g. for prod) get credentials; branches and pull requests do not.
    condition {
      test     = "StringEquals"
      variable = "${local.issuer}:sub"
      values   = [for e in var.environments : "repo:${var.repository}:environment:${e}"]
    }
  }
}

resource "aws_iam_role" "deploy" {
  name                 = var.role_name
  description          = "Assumed by GitHub Actions (${var.repository}) to deploy with Terraform"
  assume_role_policy   = data.aws_iam_policy_document.assume.json
  max_session_duration = var.max_session_duration
  permissions_boundary = var.permissions_boundary_arn
  tags                 = var.tags
}

# Managed policies rather than one inline policy: a role's inline policies share a
# 10,240-character budget, which a deploy role outgrows; each managed policy has 6,144.
locals {
  statement_chunks = chunklist(var.policy_statements, var.statements_per_policy)
}

data "aws_iam_policy_document" "deploy" {
  count = length(local.statement_chunks)

  dynamic "statement" {
    for_each = local.statement_chunks[count.index]
    content {
      sid       = statement.value.sid
      effect    = "Allow"
      actions   = statement.value.actions
      resources = statement.value.resources

      dynamic "condition" {
        for_each = statement.value.conditions
        content {
          test     = condition.value.test
          variable = condition.value.variable
          values   = condition.value.values
        }
      }
    }
  }
}

resource "aws_iam_policy" "deploy" {
  count = length(local.statement_chunks)

  name        = "${var.role_name}-${count.index + 1}"
  description = "Permissions of ${var.role_name} (part ${count.index + 1} of ${length(local.statement_chunks)})"
  policy      = data.aws_iam_policy_document.deploy[count.index].json
  tags        = var.tags
}

resource "aws_iam_role_policy_attachment" "deploy" {
  count = length(local.statement_chunks)

  role       = aws_iam_role.deploy.name
  policy_arn = aws_iam_policy.deploy[count.index].arn
}
