# State lives in the bucket created by environments/bootstrap (output state_bucket,
# named imagegen-tfstate-<account id>). Replace the account ID below, or override it with
# `terraform init -backend-config=bucket=<state_bucket>`. use_lockfile keeps a .tflock
# object next to the state instead of a DynamoDB lock table (Terraform >= 1.10).
terraform {
  backend "s3" {
    bucket       = "imagegen-tfstate-000000000000"
    key          = "imagegen/staging/terraform.tfstate"
    region       = "eu-west-1"
    encrypt      = true
    use_lockfile = true
  }
}
