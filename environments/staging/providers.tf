locals {
  default_tags = {
    Project     = "imagegen"
    Environment = var.settings.environment
    ManagedBy   = "terraform"
  }
}

provider "aws" {
  region = var.settings.aws_region
  # Credentials of another account fail the plan instead of deploying there.
  allowed_account_ids = try(var.settings.aws_account_id, null) == null ? null : [var.settings.aws_account_id]

  default_tags {
    tags = local.default_tags
  }
}

# CloudFront only accepts ACM certificates from us-east-1.
provider "aws" {
  alias               = "us_east_1"
  region              = "us-east-1"
  allowed_account_ids = try(var.settings.aws_account_id, null) == null ? null : [var.settings.aws_account_id]

  default_tags {
    tags = local.default_tags
  }
}
