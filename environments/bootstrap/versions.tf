terraform {
  required_version = ">= 1.10"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 6.0"
    }
  }

  # No backend block on purpose: this configuration creates the S3 bucket that holds the
  # other environments' state, so it cannot keep its own state there before it exists.
  # Its local terraform.tfstate holds no secrets; keep it somewhere safe (it is not
  # committed), or migrate it into the state bucket after the first apply with
  # `terraform init -migrate-state` and a backend block.
}
