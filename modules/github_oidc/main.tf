locals {
  issuer = "token.actions.githubusercontent.com"
}

data "aws_iam_policy_document" "assume" {
  statement {
    sid     = "GitHubActions"
    effect  = "Allow"
    actions = ["sts:AssumeRoleWithWebIdentity"]

    principals {
      type        = "Federated"
      identifiers = [var.provider_arn]
    }

    condition {
      test     = "StringEquals"
      variable = "${local.issuer}:aud"
      values   = ["sts.amazonaws.com"]
    }

    # Exact subjects, no wildcards: a job of a named GitHub environment (which can require
    # reviewers and restrict branches), a pull request of the repository, or a branch.
    condition {
      test     = "StringEquals"
      variable = "${local.issuer}:sub"
      values   = [for s in var.subjects : "repo:${var.repository}:${s}"]
    }

    # An environment's subject does not name the branch; STS checks GitHub's ref claim itself.
    dynamic "condition" {
      for_each = length(var.refs) == 0 ? [] : [var.refs]
      content {
        test     = "StringEquals"
        variable = "${local.issuer}:ref"
        values   = condition.value
      }
    }
  }
}

resource "aws_iam_role" "this" {
  name                 = var.role_name
  description          = var.description
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

data "aws_iam_policy_document" "this" {
  count = length(local.statement_chunks)

  dynamic "statement" {
    for_each = local.statement_chunks[count.index]
    content {
      sid       = statement.value.sid
      effect    = statement.value.effect
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

resource "aws_iam_policy" "this" {
  count = length(local.statement_chunks)

  name        = "${var.role_name}-${count.index + 1}"
  description = "Permissions of ${var.role_name} (part ${count.index + 1} of ${length(local.statement_chunks)})"
  policy      = data.aws_iam_policy_document.this[count.index].json
  tags        = var.tags
}

resource "aws_iam_role_policy_attachment" "this" {
  count = length(local.statement_chunks)

  role       = aws_iam_role.this.name
  policy_arn = aws_iam_policy.this[count.index].arn
}
