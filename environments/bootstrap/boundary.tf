# The permissions boundary of every role an environment's deploy creates (today the execution
# roles of its functions, modules/lambda_function). A role's rights are the intersection of its
# own policies and this boundary, so whatever a deploy writes into a role's policy, that role
# reaches only its own environment: the actions the service calls, on `<project>-<env>-*`
# resources. The deploy role may create roles only with it (deploy_policy.tf, sid
# IamRolesWithBoundary) and cannot change it: it has no permission on IAM policies.
#
# When the service needs a new action, add it here too (and apply the bootstrap first); the
# structure test `every_action_a_workload_role_is_granted_is_within_its_boundary` says which.

data "aws_iam_policy_document" "boundary" {
  for_each = var.deploy_environments

  statement {
    sid     = "WriteOwnLogs"
    actions = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = [
      "${local.arn}:logs:${local.region}:${local.account_id}:log-group:/aws/lambda/${local.p}-${each.key}-*",
      "${local.arn}:logs:${local.region}:${local.account_id}:log-group:/aws/lambda/${local.p}-${each.key}-*:log-stream:*",
    ]
  }

  # X-Ray takes no resource-level permissions.
  statement {
    sid       = "WriteTraces"
    actions   = ["xray:PutTelemetryRecords", "xray:PutTraceSegments"]
    resources = ["*"]
  }

  # Environment variables and secrets encrypted with a customer managed key (the key's own
  # policy decides who may use it).
  statement {
    sid       = "Decrypt"
    actions   = ["kms:Decrypt"]
    resources = ["${local.arn}:kms:${local.region}:${local.account_id}:key/*"]
  }

  statement {
    sid = "Tables"
    actions = [
      "dynamodb:ConditionCheckItem", "dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem",
      "dynamodb:Query", "dynamodb:UpdateItem",
    ]
    resources = [
      "${local.arn}:dynamodb:${local.region}:${local.account_id}:table/${local.p}-${each.key}-*",
      "${local.arn}:dynamodb:${local.region}:${local.account_id}:table/${local.p}-${each.key}-*/index/*",
    ]
  }

  statement {
    sid       = "Objects"
    actions   = ["s3:DeleteObject", "s3:DeleteObjectVersion", "s3:GetObject", "s3:PutObject"]
    resources = ["${local.arn}:s3:::${local.p}-${each.key}-*/*"]
  }

  statement {
    sid       = "ListObjects"
    actions   = ["s3:ListBucket", "s3:ListBucketVersions"]
    resources = ["${local.arn}:s3:::${local.p}-${each.key}-*"]
  }

  statement {
    sid = "Queues"
    actions = [
      "sqs:ChangeMessageVisibility", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage",
      "sqs:SendMessage",
    ]
    resources = ["${local.arn}:sqs:${local.region}:${local.account_id}:${local.p}-${each.key}-*"]
  }

  statement {
    sid       = "Secrets"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = ["${local.arn}:secretsmanager:${local.region}:${local.account_id}:secret:${local.p}/${each.key}/*"]
  }

  # The api function keeps API Gateway keys in step with its own: usage plans and keys are
  # named by IDs; the function's own policy narrows them to its plans and its tagged keys.
  statement {
    sid     = "ApiGatewayKeys"
    actions = ["apigateway:DELETE", "apigateway:GET", "apigateway:POST", "apigateway:PUT"]
    resources = [
      "${local.apigw_arn}/usageplans", "${local.apigw_arn}/usageplans/*",
      "${local.apigw_arn}/apikeys", "${local.apigw_arn}/apikeys/*",
      "${local.apigw_arn}/tags/*",
    ]
  }
}

resource "aws_iam_policy" "boundary" {
  for_each = var.deploy_environments

  # The name the environment roots derive (modules/stack: permissions_boundary_arn).
  name        = "${local.p}-${each.key}-boundary"
  description = "Permissions boundary of the roles the ${each.key} deploy creates"
  policy      = data.aws_iam_policy_document.boundary[each.key].json
  tags        = { Environment = each.key }
}
