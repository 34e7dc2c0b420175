terraform {
  # Validations that refer to other variables (setting_names) need Terraform >= 1.9.
  required_version = ">= 1.10"

  required_providers {
    aws = {
      source                = "hashicorp/aws"
      version               = ">= 6.0"
      configuration_aliases = [aws.us_east_1]
    }
  }
}
