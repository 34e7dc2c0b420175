# Permissions of each environment's plan role: the read actions of that environment's deploy
# statements (Describe*, Get*, List*, View*, and API Gateway's GET), on the same resources,
# under the same conditions, and its denies. `terraform plan` refreshes every resource and
# reads the state; it writes nothing (`cargo xtask deploy --plan-only` plans with -lock=false
# and uploads nothing).
#
# Its one write: `--publish-plan` stores a saved plan under plans/<env>/<sha256>.tfplan in the
# artifact bucket, new objects only, for the approved apply job to fetch by that SHA-256
# (which only the workflow run that made the plan hands on, so a plan stored by anyone else is
# never applied). Stored plans expire after plan_retention_days.
#
# What it can read that is secret: its environment's state, and so the download signing key
# in it (Terraform generates that key), and that key's secret value. Not the Gemini key: a
# deny. Pull requests can use the role (they can change the workflow they run), which is why
# each environment has its own and `plan_on_pull_requests` can keep one to main.

locals {
  read_action = "^[a-z0-9-]+:(Describe|Get|List|View)[A-Za-z]*$"

  # Per environment: its deploy statements with their read actions only (denies kept whole),
  # then the one write.
  plan_statements = { for e, statements in local.deploy_statements : e => concat([
    for s in statements : merge(s, {
      actions = try(s.effect, "Allow") == "Deny" ? s.actions : [for a in s.actions : a if can(regex(local.read_action, a)) || a == "apigateway:GET"]
    })
    if try(s.effect, "Allow") == "Deny" || length([for a in s.actions : a if can(regex(local.read_action, a)) || a == "apigateway:GET"]) > 0
    ], [
    {
      # Only new objects: a stored plan is never replaced (the apply job checks its SHA-256
      # anyway).
      sid       = "PublishPlans"
      actions   = ["s3:PutObject"]
      resources = ["${local.artifs_arn}/plans/${e}/*"]
      conditions = [{
        test     = "Null"
        variable = "s3:if-none-match"
        values   = ["false"]
      }]
    },
  ]) }
}
