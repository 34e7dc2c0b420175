# An environment is the stack (modules/stack) with its own settings (terraform.tfvars) and state
# (backend.tf). This file, providers.tf, versions.tf, outputs.tf and moved.tf are identical in
# staging and prod.

variable "settings" {
  description = "The environment's settings, set in terraform.tfvars; modules/stack/variables.tf types, checks and describes each one."
  type        = any
}

variable "release" {
  description = "The release's Lambda artifacts, passed by `cargo xtask deploy` as one `-var=release={...}`; modules/stack/variables.tf types and checks them."
  type        = any
}

module "stack" {
  source = "../../modules/stack"

  providers = {
    aws           = aws
    aws.us_east_1 = aws.us_east_1
  }

  settings      = var.settings
  setting_names = keys(var.settings)
  release       = var.release
}
