# Permissions of each environment's deploy role: what `terraform apply` of that environment's
# root and `cargo xtask deploy --env <env>` need, and no more than can be named.
# (sts:GetCallerIdentity, the deploy's preflight, needs no permission.)
#
# One list per environment `e`, and each names only e's resources: <project>-<e>-* for
# functions, roles, tables, queues, buckets, topics, alarms, budgets and log groups,
# <project>/<e>/* for secrets, and <project>/<e>/ in the state bucket. Where AWS names a
# resource by an ID assigned at creation, the statement requires e's Environment tag (which the
# environment's provider puts on everything it creates) if the service can check one, and says
# so where it cannot.
#
# Every role the deploy creates carries e's permissions boundary (boundary.tf): the role may
# create a role, or write or remove its policies, only with that boundary, and may not remove
# it. So the known limit of a deploy role (it can write a role's policy and pass the role to
# Lambda) reaches no further than the boundary, which admits only e's resources.

locals {
  arn        = "arn:${local.partition}"
  state_arn  = module.buckets["state"].arn
  artifs_arn = module.buckets["artifacts"].arn
  logs_arn   = "${local.arn}:logs:${local.region}:${local.account_id}:log-group"
  lambda_arn = "${local.arn}:lambda:${local.region}:${local.account_id}"
  apigw_arn  = "${local.arn}:apigateway:${local.region}::"

  # A create call must carry the project's and the environment's tags, and its tag action
  # must not reach a resource that has an Environment tag already (another environment's: a
  # create's resource has none yet); tagging an existing resource is the resource statements'.
  request_tags = { for e in keys(var.deploy_environments) : e => [
    {
      test     = "Null"
      variable = "aws:ResourceTag/Environment"
      values   = ["true"]
    },
    {
      test     = "StringEquals"
      variable = "aws:RequestTag/Project"
      values   = [local.p]
    },
    {
      test     = "StringEquals"
      variable = "aws:RequestTag/Environment"
      values   = [e]
    },
  ] }
  # The resource acted on carries the project's and the environment's tags.
  resource_tags = { for e in keys(var.deploy_environments) : e => [
    {
      test     = "StringEquals"
      variable = "aws:ResourceTag/Project"
      values   = [local.p]
    },
    {
      test     = "StringEquals"
      variable = "aws:ResourceTag/Environment"
      values   = [e]
    },
  ] }

  deploy_statements = { for e, settings in var.deploy_environments : e => concat([

    {
      sid       = "StateBucketList"
      actions   = ["s3:ListBucket"]
      resources = [local.state_arn]
    },
    {
      sid       = "StateObjects"
      actions   = ["s3:DeleteObject", "s3:GetObject", "s3:PutObject"]
      resources = ["${local.state_arn}/${local.p}/${e}/*"]
    },
    {
      # Lets HeadObject/GetObject on a missing release or zip answer 404, not 403.
      sid       = "ArtifactBucketList"
      actions   = ["s3:ListBucket"]
      resources = [local.artifs_arn]
    },
    {
      # `cargo xtask deploy` uploads a release's zips (lambda/<sha256>.zip) and its manifest
      # (releases/<id>.json), checks them with HeadObject (s3:GetObject) and reads the
      # manifest of an earlier release (--artifact). UpdateFunctionCode and Terraform make
      # Lambda read the zip with the caller's rights. No DeleteObject: releases stay for
      # rollbacks (the bucket is versioned; old versions expire by its lifecycle rule).
      sid       = "ArtifactObjects"
      actions   = ["s3:GetObject"]
      resources = ["${local.artifs_arn}/lambda/*", "${local.artifs_arn}/releases/*"]
    },
    {
      # Every environment uploads releases: only new objects (If-None-Match: *), so no
      # environment can replace a zip or manifest another one deploys or rolls back to.
      sid       = "ArtifactObjectsCreate"
      actions   = ["s3:PutObject"]
      resources = ["${local.artifs_arn}/lambda/*", "${local.artifs_arn}/releases/*"]
      conditions = [{
        test     = "Null"
        variable = "s3:if-none-match"
        values   = ["false"]
      }]
    },
    {
      # `cargo xtask deploy --apply-plan` fetches the environment's reviewed plan, which the
      # plan role stored (plan_policy.tf).
      sid       = "PlanObjects"
      actions   = ["s3:GetObject"]
      resources = ["${local.artifs_arn}/plans/${e}/*"]
    },
    {
      sid = "ServiceBuckets"
      actions = [
        "s3:CreateBucket", "s3:DeleteBucket", "s3:DeleteBucketPolicy", "s3:GetAccelerateConfiguration",
        "s3:GetBucketAcl", "s3:GetBucketCORS", "s3:GetBucketLocation", "s3:GetBucketLogging",
        "s3:GetBucketObjectLockConfiguration", "s3:GetBucketOwnershipControls", "s3:GetBucketPolicy",
        "s3:GetBucketPublicAccessBlock", "s3:GetBucketRequestPayment", "s3:GetBucketTagging",
        "s3:GetBucketVersioning", "s3:GetBucketWebsite", "s3:GetEncryptionConfiguration",
        "s3:GetLifecycleConfiguration", "s3:GetReplicationConfiguration", "s3:ListBucket",
        "s3:PutBucketCORS", "s3:PutBucketLogging", "s3:PutBucketOwnershipControls", "s3:PutBucketPolicy",
        "s3:PutBucketPublicAccessBlock", "s3:PutBucketTagging", "s3:PutBucketVersioning",
        "s3:PutEncryptionConfiguration", "s3:PutLifecycleConfiguration",
      ]
      resources = ["${local.arn}:s3:::${local.p}-${e}-*"]
    },
    {
      sid = "DynamoDbTables"
      actions = [
        "dynamodb:CreateTable", "dynamodb:DeleteTable", "dynamodb:DescribeContinuousBackups",
        "dynamodb:DescribeTable", "dynamodb:DescribeTimeToLive", "dynamodb:ListTagsOfResource",
        "dynamodb:TagResource", "dynamodb:UntagResource", "dynamodb:UpdateContinuousBackups",
        "dynamodb:UpdateTable", "dynamodb:UpdateTimeToLive",
      ]
      resources = ["${local.arn}:dynamodb:${local.region}:${local.account_id}:table/${local.p}-${e}-*"]
    },
    {
      sid = "SqsQueues"
      actions = [
        "sqs:CreateQueue", "sqs:DeleteQueue", "sqs:GetQueueAttributes", "sqs:GetQueueUrl",
        "sqs:ListQueueTags", "sqs:SetQueueAttributes", "sqs:TagQueue", "sqs:UntagQueue",
      ]
      resources = ["${local.arn}:sqs:${local.region}:${local.account_id}:${local.p}-${e}-*"]
    },
    {
      # Terraform manages the functions; `cargo xtask deploy` also calls GetAlias,
      # GetFunctionConfiguration, UpdateFunctionCode, PublishVersion and UpdateAlias
      # (--code-only, and the live-code check after apply).
      sid = "LambdaFunctions"
      actions = [
        "lambda:AddPermission", "lambda:CreateAlias", "lambda:CreateFunction", "lambda:DeleteAlias",
        "lambda:DeleteFunction", "lambda:DeleteFunctionConcurrency", "lambda:GetAlias",
        "lambda:GetFunction", "lambda:GetFunctionCodeSigningConfig", "lambda:GetFunctionConcurrency",
        "lambda:GetFunctionConfiguration",
        "lambda:GetPolicy", "lambda:GetRuntimeManagementConfig", "lambda:ListTags",
        "lambda:ListVersionsByFunction", "lambda:PublishVersion", "lambda:PutFunctionConcurrency",
        "lambda:RemovePermission", "lambda:TagResource", "lambda:UntagResource", "lambda:UpdateAlias",
        "lambda:UpdateFunctionCode", "lambda:UpdateFunctionConfiguration",
      ]
      resources = ["${local.lambda_arn}:function:${local.p}-${e}-*"]
    },
    {
      # The preflight's concurrency check: the account's limits, a call without a resource.
      sid       = "LambdaAccountSettings"
      actions   = ["lambda:GetAccountSettings"]
      resources = ["*"]
    },
    {
      # A mapping's ARN holds a UUID assigned at creation, so the write actions are
      # matched on "*" and confined to the project's functions by lambda:FunctionArn.
      sid       = "LambdaEventSourceMappingWrite"
      actions   = ["lambda:CreateEventSourceMapping", "lambda:DeleteEventSourceMapping", "lambda:UpdateEventSourceMapping"]
      resources = ["*"]
      conditions = [{
        test     = "ArnLike"
        variable = "lambda:FunctionArn"
        values   = ["${local.lambda_arn}:function:${local.p}-${e}-*"]
      }]
    },
    {
      # The janitor's schedule (modules/queue): a rule named <prefix>-jobs-janitor and its target.
      sid = "EventBridgeRules"
      actions = [
        "events:DeleteRule", "events:DescribeRule", "events:ListTagsForResource",
        "events:ListTargetsByRule", "events:PutRule", "events:PutTargets", "events:RemoveTargets",
        "events:TagResource", "events:UntagResource",
      ]
      resources = ["${local.arn}:events:${local.region}:${local.account_id}:rule/${local.p}-${e}-*"]
    },
    {
      sid       = "LambdaEventSourceMappingRead"
      actions   = ["lambda:GetEventSourceMapping", "lambda:ListTags", "lambda:TagResource", "lambda:UntagResource"]
      resources = ["${local.lambda_arn}:event-source-mapping:*"]
    },
    {
      # Creating a role, setting its boundary and writing or removing its policies: only with
      # e's permissions boundary in place (iam:PermissionsBoundary is the boundary the role
      # has, or gets). No iam:DeleteRolePermissionsBoundary anywhere: it stays.
      sid = "IamRolesWithBoundary"
      actions = [
        "iam:CreateRole", "iam:DeleteRolePolicy", "iam:PutRolePermissionsBoundary", "iam:PutRolePolicy",
      ]
      resources = ["${local.arn}:iam::${local.account_id}:role/${local.p}-${e}-*"]
      conditions = [{
        test     = "StringEquals"
        variable = "iam:PermissionsBoundary"
        values   = [aws_iam_policy.boundary[e].arn]
      }]
    },
    {
      sid = "IamRoles"
      actions = [
        "iam:DeleteRole", "iam:GetRole", "iam:GetRolePolicy", "iam:ListAttachedRolePolicies",
        "iam:ListInstanceProfilesForRole", "iam:ListRolePolicies", "iam:TagRole", "iam:UntagRole",
        "iam:UpdateRole",
      ]
      resources = ["${local.arn}:iam::${local.account_id}:role/${local.p}-${e}-*"]
    },
    {
      sid       = "IamPassRoleToLambda"
      actions   = ["iam:PassRole"]
      resources = ["${local.arn}:iam::${local.account_id}:role/${local.p}-${e}-*"]
      conditions = [{
        test     = "StringEquals"
        variable = "iam:PassedToService"
        values   = ["lambda.amazonaws.com"]
      }]
    },
    {
      sid = "LogGroups"
      actions = [
        "logs:AssociateKmsKey", "logs:CreateLogGroup", "logs:DeleteLogGroup", "logs:DeleteRetentionPolicy",
        "logs:DeleteSubscriptionFilter", "logs:DescribeSubscriptionFilters", "logs:DisassociateKmsKey",
        "logs:ListTagsForResource", "logs:PutRetentionPolicy", "logs:PutSubscriptionFilter",
        "logs:TagResource", "logs:UntagResource",
      ]
      # API Gateway names execution log groups after the REST API ID, which is assigned at creation.
      resources = [
        "${local.logs_arn}:/aws/lambda/${local.p}-${e}-*",
        "${local.logs_arn}:/aws/apigateway/${local.p}-${e}*",
        "${local.logs_arn}:aws-waf-logs-${local.p}-${e}*",
        "${local.logs_arn}:API-Gateway-Execution-Logs_*",
      ]
    },
    {
      # List call: only the account-wide log-group:* resource applies.
      sid       = "LogGroupsDescribe"
      actions   = ["logs:DescribeLogGroups"]
      resources = ["${local.logs_arn}:*"]
    },
    {
      # WAF log delivery: these CloudWatch Logs actions support no resource-level permissions.
      sid       = "WafLogDelivery"
      actions   = ["logs:CreateLogDelivery", "logs:DeleteLogDelivery", "logs:DescribeResourcePolicies", "logs:PutResourcePolicy"]
      resources = ["*"]
    },
    {
      # API Gateway resources are named by IDs assigned at creation, not by name.
      sid     = "ApiGateway"
      actions = ["apigateway:DELETE", "apigateway:GET", "apigateway:PATCH", "apigateway:POST", "apigateway:PUT"]
      resources = [
        "${local.apigw_arn}/restapis", "${local.apigw_arn}/restapis/*",
        "${local.apigw_arn}/usageplans", "${local.apigw_arn}/usageplans/*",
        "${local.apigw_arn}/apikeys", "${local.apigw_arn}/apikeys/*",
        "${local.apigw_arn}/domainnames", "${local.apigw_arn}/domainnames/*",
        "${local.apigw_arn}/tags/*",
      ]
    },
    {
      sid       = "ApiGatewayWafAssociation"
      actions   = ["apigateway:SetWebACL"]
      resources = ["${local.apigw_arn}/restapis/*/stages/*"]
    },
    {
      sid = "Wafv2"
      actions = [
        "wafv2:AssociateWebACL", "wafv2:CreateWebACL", "wafv2:DeleteLoggingConfiguration", "wafv2:DeleteWebACL",
        "wafv2:DisassociateWebACL", "wafv2:GetLoggingConfiguration", "wafv2:GetWebACL",
        "wafv2:GetWebACLForResource", "wafv2:ListTagsForResource", "wafv2:PutLoggingConfiguration",
        "wafv2:TagResource", "wafv2:UntagResource", "wafv2:UpdateWebACL",
      ]
      resources = concat(
        ["${local.arn}:wafv2:${local.region}:${local.account_id}:regional/webacl/${local.p}-${e}-*/*"],
        [
          "${local.arn}:wafv2:${local.region}:${local.account_id}:regional/managedruleset/*/*",
          "${local.apigw_arn}/restapis/*/stages/*",
        ],
      )
    },
    {
      # No GetSecretValue or PutSecretValue here: the Gemini key never passes through CI.
      sid = "SecretsManager"
      actions = [
        "secretsmanager:CreateSecret", "secretsmanager:DeleteResourcePolicy", "secretsmanager:DeleteSecret",
        "secretsmanager:DescribeSecret", "secretsmanager:GetResourcePolicy", "secretsmanager:PutResourcePolicy",
        "secretsmanager:TagResource", "secretsmanager:UntagResource", "secretsmanager:UpdateSecret",
        "secretsmanager:ValidateResourcePolicy",
      ]
      resources = ["${local.arn}:secretsmanager:${local.region}:${local.account_id}:secret:${local.p}/${e}/*"]
    },
    {
      # The Gemini key is never read or written by a deploy, whatever its resource policy says
      # (the deploy may write that policy): an explicit deny.
      sid       = "DenyGeminiKeyValue"
      effect    = "Deny"
      actions   = ["secretsmanager:GetSecretValue", "secretsmanager:PutSecretValue"]
      resources = ["${local.arn}:secretsmanager:${local.region}:${local.account_id}:secret:${local.p}/${e}/gemini-api-key-??????"]
    },
    {
      # The download signing key is generated by Terraform (modules/downloads), which writes
      # its value and reads it back on every refresh. Only that secret: its name, then the
      # six random characters Secrets Manager appends.
      sid       = "DownloadSigningKeyValue"
      actions   = ["secretsmanager:GetSecretValue", "secretsmanager:PutSecretValue"]
      resources = ["${local.arn}:secretsmanager:${local.region}:${local.account_id}:secret:${local.p}/${e}/download-signing-key-??????"]
    },
    {
      sid = "SnsTopics"
      actions = [
        "sns:CreateTopic", "sns:DeleteTopic", "sns:GetSubscriptionAttributes", "sns:GetTopicAttributes",
        "sns:ListSubscriptionsByTopic", "sns:ListTagsForResource", "sns:SetSubscriptionAttributes",
        "sns:SetTopicAttributes", "sns:Subscribe", "sns:TagResource", "sns:Unsubscribe", "sns:UntagResource",
      ]
      resources = ["${local.arn}:sns:${local.region}:${local.account_id}:${local.p}-${e}-*"]
    },
    {
      # A key's ID is assigned at creation; creation is allowed only with e's tags.
      sid        = "KmsCreateKey"
      actions    = ["kms:CreateKey", "kms:TagResource"]
      resources  = ["*"]
      conditions = local.request_tags[e]
    },
    {
      sid = "KmsProjectKeys"
      actions = [
        "kms:CreateAlias", "kms:DeleteAlias", "kms:DescribeKey", "kms:EnableKeyRotation", "kms:GetKeyPolicy",
        "kms:GetKeyRotationStatus", "kms:ListResourceTags", "kms:PutKeyPolicy", "kms:ScheduleKeyDeletion",
        "kms:TagResource", "kms:UntagResource", "kms:UpdateAlias", "kms:UpdateKeyDescription",
      ]
      resources  = ["${local.arn}:kms:${local.region}:${local.account_id}:key/*"]
      conditions = local.resource_tags[e]
    },
    {
      sid       = "KmsProjectAliases"
      actions   = ["kms:CreateAlias", "kms:DeleteAlias", "kms:UpdateAlias"]
      resources = ["${local.arn}:kms:${local.region}:${local.account_id}:alias/${local.p}-${e}-*"]
    },
    {
      # List call without resource-level permissions.
      sid       = "KmsListAliases"
      actions   = ["kms:ListAliases"]
      resources = ["*"]
    },
    {
      sid = "CloudWatchAlarms"
      actions = [
        "cloudwatch:DeleteAlarms", "cloudwatch:DescribeAlarms", "cloudwatch:ListTagsForResource",
        "cloudwatch:PutMetricAlarm", "cloudwatch:TagResource", "cloudwatch:UntagResource",
      ]
      resources = ["${local.arn}:cloudwatch:${local.region}:${local.account_id}:alarm:${local.p}-${e}-*"]
    },
    {
      sid       = "CloudWatchDashboards"
      actions   = ["cloudwatch:DeleteDashboards", "cloudwatch:GetDashboard", "cloudwatch:PutDashboard"]
      resources = ["${local.arn}:cloudwatch::${local.account_id}:dashboard/${local.p}-${e}"]
    },
    {
      sid = "Budgets"
      actions = [
        "budgets:ListTagsForResource", "budgets:ModifyBudget", "budgets:TagResource", "budgets:UntagResource",
        "budgets:ViewBudget",
      ]
      resources = ["${local.arn}:budgets::${local.account_id}:budget/${local.p}-${e}-*"]
    },
    {
      # Cost anomaly monitors and subscriptions (modules/cost) are named by IDs assigned at
      # creation, so creating one must carry e's tags, and the rest acts only on resources
      # that carry them. The Get calls are lists and take no resource.
      sid = "CostAnomalyCreate"
      actions = [
        "ce:CreateAnomalyMonitor", "ce:CreateAnomalySubscription", "ce:TagResource",
      ]
      resources  = ["*"]
      conditions = local.request_tags[e]
    },
    {
      sid = "CostAnomalyResources"
      actions = [
        "ce:DeleteAnomalyMonitor", "ce:DeleteAnomalySubscription", "ce:ListTagsForResource",
        "ce:TagResource", "ce:UntagResource", "ce:UpdateAnomalyMonitor", "ce:UpdateAnomalySubscription",
      ]
      resources = [
        "${local.arn}:ce::${local.account_id}:anomalymonitor/*",
        "${local.arn}:ce::${local.account_id}:anomalysubscription/*",
      ]
      conditions = local.resource_tags[e]
    },
    {
      sid       = "CostAnomalyRead"
      actions   = ["ce:GetAnomalyMonitors", "ce:GetAnomalySubscriptions"]
      resources = ["*"]
    },
    {
      # A certificate's ARN is assigned at creation; requests must carry e's tags.
      sid        = "AcmRequestCertificate"
      actions    = ["acm:AddTagsToCertificate", "acm:RequestCertificate"]
      resources  = ["*"]
      conditions = local.request_tags[e]
    },
    {
      # Any region: CloudFront certificates live in us-east-1. Only e's certificates.
      sid = "AcmCertificates"
      actions = [
        "acm:AddTagsToCertificate", "acm:DeleteCertificate", "acm:DescribeCertificate",
        "acm:ListTagsForCertificate", "acm:RemoveTagsFromCertificate",
      ]
      resources  = ["${local.arn}:acm:*:${local.account_id}:certificate/*"]
      conditions = local.resource_tags[e]
    },
    {
      # Distribution IDs are assigned at creation, and these actions are not checked against
      # tags: any of the account's distributions (known limit: staging's and prod's alike).
      sid = "CloudFrontDistributions"
      actions = [
        "cloudfront:DeleteDistribution", "cloudfront:GetDistribution", "cloudfront:ListTagsForResource",
        "cloudfront:TagResource", "cloudfront:UntagResource", "cloudfront:UpdateDistribution",
      ]
      resources = ["${local.arn}:cloudfront::${local.account_id}:distribution/*"]
    },
    {
      # CreateDistribution takes no resource (the ID does not exist yet); Terraform creates
      # distributions with their tags (CreateDistributionWithTags), which must carry e's.
      sid        = "CloudFrontCreateDistribution"
      actions    = ["cloudfront:CreateDistribution", "cloudfront:TagResource"]
      resources  = ["*"]
      conditions = local.request_tags[e]
    },
    {
      # The download distribution's signing key (modules/downloads). Public keys and key groups
      # support no resource-level permissions and no tags, so "*" is all IAM can name; their
      # names are <project>-<env>-downloads*.
      sid = "CloudFrontSigningKeys"
      actions = [
        "cloudfront:CreateKeyGroup", "cloudfront:CreatePublicKey", "cloudfront:DeleteKeyGroup",
        "cloudfront:DeletePublicKey", "cloudfront:GetKeyGroup", "cloudfront:GetPublicKey",
        "cloudfront:UpdateKeyGroup", "cloudfront:UpdatePublicKey",
      ]
      resources = ["*"]
    },
    {
      # Creating an origin access control or a response headers policy takes no resource and
      # no tags; once created, each is named by its ID (next statement).
      sid       = "CloudFrontCreatePolicies"
      actions   = ["cloudfront:CreateOriginAccessControl", "cloudfront:CreateResponseHeadersPolicy"]
      resources = ["*"]
    },
    {
      # IDs are assigned at creation, so any of the account's.
      sid = "CloudFrontPolicies"
      actions = [
        "cloudfront:DeleteOriginAccessControl", "cloudfront:DeleteResponseHeadersPolicy",
        "cloudfront:GetOriginAccessControl", "cloudfront:GetResponseHeadersPolicy",
        "cloudfront:UpdateOriginAccessControl", "cloudfront:UpdateResponseHeadersPolicy",
      ]
      resources = [
        "${local.arn}:cloudfront::${local.account_id}:origin-access-control/*",
        "${local.arn}:cloudfront::${local.account_id}:response-headers-policy/*",
      ]
    },
    {
      # Read-only look-up of AWS managed policies by name; the List calls take no resource.
      sid = "CloudFrontManagedPolicies"
      actions = [
        "cloudfront:GetCachePolicy", "cloudfront:GetOriginRequestPolicy", "cloudfront:GetResponseHeadersPolicy",
        "cloudfront:ListCachePolicies", "cloudfront:ListOriginRequestPolicies",
        "cloudfront:ListResponseHeadersPolicies",
      ]
      resources = ["*"]
    },
    ],
    # Only the hosted zones named for e (its custom domain and certificate validation).
    length(settings.hosted_zone_ids) == 0 ? [] : [
      {
        sid       = "Route53Records"
        actions   = ["route53:ChangeResourceRecordSets", "route53:GetHostedZone", "route53:ListResourceRecordSets"]
        resources = [for z in settings.hosted_zone_ids : "${local.arn}:route53:::hostedzone/${z}"]
      },
      {
        sid       = "Route53Changes"
        actions   = ["route53:GetChange"]
        resources = ["${local.arn}:route53:::change/*"]
      },
    ],
  ) }
}
