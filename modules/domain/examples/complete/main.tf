# The domain module with both of its providers passed in, as a root module of its own:
# `terraform validate` cannot check a module that declares configuration_aliases by itself
# (hashicorp/terraform#28490), so CI validates the module through this example.

provider "aws" {
  region = "eu-west-1"
}

provider "aws" {
  alias  = "us_east_1"
  region = "us-east-1"
}

module "domain" {
  source = "../.."

  providers = {
    aws           = aws
    aws.us_east_1 = aws.us_east_1
  }

  domain_name        = "api.example.com"
  hosted_zone_id     = "Z0000000000000000000"
  rest_api_id        = "a1b2c3d4e5"
  stage_name         = "v1"
  cloudfront_enabled = true
}

output "api_url" {
  description = "HTTPS base URL of the API under the custom domain."
  value       = module.domain.api_url
}
