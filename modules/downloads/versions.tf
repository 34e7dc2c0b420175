terraform {
  required_version = ">= 1.10"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 6.0"
    }
    # tls_private_key: private_key_pem_pkcs8 needs tls >= 4.0.
    tls = {
      source  = "hashicorp/tls"
      version = ">= 4.0"
    }
  }
}
