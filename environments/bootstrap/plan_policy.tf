# Permissions of the plan role: the read actions of every environment's deploy statements
# (Describe*, Get*, List*, View*, and API Gateway's GET), on the same resources, under the same
# conditions. `terraform plan` refreshes every resource and reads the state; it writes nothing
# (`cargo xtask deploy --plan-only` plans with -lock=false and uploads nothing).
#
# Its one write: `--publish-plan` stores a saved plan under plans/<env>/<sha256>.tfplan in the
# artifact bucket, for the approved apply job to fetch by that SHA-256 (which only the workflow
# run that made the plan hands on, so a plan stored by anyone else is never applied).
#
# What it can read that is secret: the state, and so the download signing key in it (Terraform
# generates that key); the key's secret value, for the same reason. Not the Gemini key: no
# deploy statement reads it.

locals {
  read_action = "^[a-z0-9-]+:(Describe|Get|List|View)[A-Za-z]*$"

  # Statements of the same sid across environments, merged: resources and condition values
  # joined (every environment's list has the same statements, in the same shape).
  statements_by_sid = {
    for sid in distinct(flatten([for statements in values(local.deploy_statements) : statements[*].sid])) :
    sid => flatten([for statements in values(local.deploy_statements) : [for s in statements : s if s.sid == sid]])
  }

  plan_statements = concat([
    for sid, statements in local.statements_by_sid : {
      sid       = sid
      actions   = [for a in statements[0].actions : a if can(regex(local.read_action, a)) || a == "apigateway:GET"]
      resources = distinct(flatten(statements[*].resources))
      conditions = [
        for i, c in try(statements[0].conditions, []) : merge(c, {
          values = distinct(flatten([for s in statements : s.conditions[i].values]))
        })
      ]
    }
    if length([for a in statements[0].actions : a if can(regex(local.read_action, a)) || a == "apigateway:GET"]) > 0
    ], [
    {
      sid       = "PublishPlans"
      actions   = ["s3:PutObject"]
      resources = ["${local.artifs_arn}/plans/*"]
    },
  ])
}
