# Only the secret's container is managed here. Its value is written by
# `cargo xtask secrets set-gemini-key` (PutSecretValue), so it never enters Terraform state.
resource "aws_secretsmanager_secret" "this" {
  #checkov:skip=CKV2_AWS_57:The value is an API key issued by Google; it cannot be rotated by a Lambda rotator and is replaced with `cargo xtask secrets set-gemini-key`.
  #checkov:skip=CKV_AWS_149:Encrypted with the AWS managed Secrets Manager key; a customer managed key can be supplied through kms_key_arn.
  name                    = var.name
  description             = var.description
  kms_key_id              = var.kms_key_arn
  recovery_window_in_days = var.recovery_window_in_days
  tags                    = var.tags
}

data "aws_iam_policy_document" "this" {
  statement {
    sid       = "AllowReaders"
    effect    = "Allow"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [aws_secretsmanager_secret.this.arn]

    principals {
      type        = "AWS"
      identifiers = var.reader_role_arns
    }
  }

  # Deny reading the value to every principal but the readers, even account admins.
  # Only GetSecretValue is denied, so administrators can still describe, update,
  # put a new value, change this policy or delete the secret.
  statement {
    sid       = "DenyOtherReaders"
    effect    = "Deny"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [aws_secretsmanager_secret.this.arn]

    principals {
      type        = "AWS"
      identifiers = ["*"]
    }

    condition {
      test     = "ArnNotEquals"
      variable = "aws:PrincipalArn"
      values   = var.reader_role_arns
    }
  }
}

resource "aws_secretsmanager_secret_policy" "this" {
  secret_arn          = aws_secretsmanager_secret.this.arn
  policy              = data.aws_iam_policy_document.this.json
  block_public_policy = true
}
