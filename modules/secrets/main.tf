# Only the secret's container is managed here. Its value is written elsewhere: the Gemini key
# by `cargo xtask secrets set-gemini-key` (PutSecretValue), so it never enters Terraform state;
# the download signing key by modules/downloads, which generates it.
resource "aws_secretsmanager_secret" "this" {
  #checkov:skip=CKV2_AWS_57:Neither value can be rotated by a Lambda rotator: the Gemini key is issued by Google and replaced with `cargo xtask secrets set-gemini-key`; the download signing key must be registered with CloudFront and is rotated with `terraform apply -replace`.
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
  # put a new value, change this policy or delete the secret. Off for a value Terraform
  # writes (deny_other_readers = false): the AWS provider reads it back with GetSecretValue.
  dynamic "statement" {
    for_each = var.deny_other_readers ? [1] : []

    content {
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
}

resource "aws_secretsmanager_secret_policy" "this" {
  secret_arn          = aws_secretsmanager_secret.this.arn
  policy              = data.aws_iam_policy_document.this.json
  block_public_policy = true
}
