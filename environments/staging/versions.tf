terraform {
  required_version = ">= 1.10"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 6.0"
    }
    # modules/downloads generates the CloudFront signing key.
    tls = {
      source  = "hashicorp/tls"
      version = "~> 4.0"
    }
  }
}
