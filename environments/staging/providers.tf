locals {
  default_tags = {
    Project     = "imagegen"
    Environment = var.settings.environment
    ManagedBy   = "terraform"
  }
}

provider "aws" {
  region = var.settings.aws_region

  default_tags {
    tags = local.default_tags
  }
}

# CloudFront only accepts ACM certificates from us-east-1.
provider "aws" {
  alias  = "us_east_1"
  region = "us-east-1"

  default_tags {
    tags = local.default_tags
  }
}
