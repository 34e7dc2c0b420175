data "aws_region" "current" {}

locals {
  # Without CloudFront the certificate lives in the API's region (regional custom domain);
  # CloudFront only accepts certificates from us-east-1.
  certificate = var.cloudfront_enabled ? aws_acm_certificate.cloudfront[0] : aws_acm_certificate.regional[0]
  validation  = one(local.certificate.domain_validation_options)

  certificate_arn = var.cloudfront_enabled ? aws_acm_certificate_validation.cloudfront[0].certificate_arn : aws_acm_certificate_validation.regional[0].certificate_arn

  alias_target = var.cloudfront_enabled ? {
    name    = aws_cloudfront_distribution.this[0].domain_name
    zone_id = aws_cloudfront_distribution.this[0].hosted_zone_id
    } : {
    name    = aws_api_gateway_domain_name.this[0].regional_domain_name
    zone_id = aws_api_gateway_domain_name.this[0].regional_zone_id
  }
}

# --- Certificate (DNS validated) ---

resource "aws_acm_certificate" "regional" {
  count = var.cloudfront_enabled ? 0 : 1

  domain_name       = var.domain_name
  validation_method = "DNS"

  options {
    certificate_transparency_logging_preference = "ENABLED"
  }

  tags = var.tags

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_acm_certificate" "cloudfront" {
  count    = var.cloudfront_enabled ? 1 : 0
  provider = aws.us_east_1

  domain_name       = var.domain_name
  validation_method = "DNS"

  options {
    certificate_transparency_logging_preference = "ENABLED"
  }

  tags = var.tags

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_route53_record" "validation" {
  zone_id         = var.hosted_zone_id
  name            = local.validation.resource_record_name
  type            = local.validation.resource_record_type
  records         = [local.validation.resource_record_value]
  ttl             = 60
  allow_overwrite = true
}

resource "aws_acm_certificate_validation" "regional" {
  count = var.cloudfront_enabled ? 0 : 1

  certificate_arn         = aws_acm_certificate.regional[0].arn
  validation_record_fqdns = [aws_route53_record.validation.fqdn]
}

resource "aws_acm_certificate_validation" "cloudfront" {
  count    = var.cloudfront_enabled ? 1 : 0
  provider = aws.us_east_1

  certificate_arn         = aws_acm_certificate.cloudfront[0].arn
  validation_record_fqdns = [aws_route53_record.validation.fqdn]
}

# --- Regional API Gateway custom domain (without CloudFront) ---

resource "aws_api_gateway_domain_name" "this" {
  count = var.cloudfront_enabled ? 0 : 1

  domain_name              = var.domain_name
  regional_certificate_arn = aws_acm_certificate_validation.regional[0].certificate_arn
  security_policy          = "TLS_1_2"

  endpoint_configuration {
    types = ["REGIONAL"]
  }

  tags = var.tags
}

resource "aws_api_gateway_base_path_mapping" "this" {
  count = var.cloudfront_enabled ? 0 : 1

  api_id      = var.rest_api_id
  stage_name  = var.stage_name
  domain_name = aws_api_gateway_domain_name.this[0].domain_name
  base_path   = var.base_path == "" ? null : var.base_path
}

# --- CloudFront in front of the API (optional) ---

data "aws_cloudfront_cache_policy" "caching_disabled" {
  count = var.cloudfront_enabled ? 1 : 0
  name  = "Managed-CachingDisabled"
}

data "aws_cloudfront_origin_request_policy" "all_viewer_except_host" {
  count = var.cloudfront_enabled ? 1 : 0
  name  = "Managed-AllViewerExceptHostHeader"
}

data "aws_cloudfront_response_headers_policy" "security_headers" {
  count = var.cloudfront_enabled ? 1 : 0
  name  = "Managed-SecurityHeadersPolicy"
}

resource "aws_cloudfront_distribution" "this" {
  #checkov:skip=CKV_AWS_86:Every request is logged by the API Gateway stage access log; CloudFront standard logs would duplicate it.
  #checkov:skip=CKV_AWS_310:A single regional API origin; there is no second origin to fail over to.
  #checkov:skip=CKV_AWS_305:The origin is an API, not a website: there is no root object to serve.
  #checkov:skip=CKV_AWS_68:The API stage carries the regional WAF web ACL; a CLOUDFRONT-scope ACL can be attached through cloudfront_web_acl_arn.
  #checkov:skip=CKV2_AWS_47:AWSManagedRulesKnownBadInputsRuleSet (Log4j) runs in the API stage's regional web ACL.
  #checkov:skip=CKV_AWS_374:The API serves clients worldwide; there is no geographic restriction to apply.
  count = var.cloudfront_enabled ? 1 : 0

  enabled         = true
  is_ipv6_enabled = true
  http_version    = "http2and3"
  comment         = "API ${var.domain_name}"
  aliases         = [var.domain_name]
  price_class     = var.cloudfront_price_class
  web_acl_id      = var.cloudfront_web_acl_arn

  origin {
    origin_id   = "api"
    domain_name = "${var.rest_api_id}.execute-api.${data.aws_region.current.region}.amazonaws.com"
    origin_path = "/${var.stage_name}"

    custom_origin_config {
      http_port              = 80
      https_port             = 443
      origin_protocol_policy = "https-only"
      origin_ssl_protocols   = ["TLSv1.2"]
    }
  }

  default_cache_behavior {
    target_origin_id           = "api"
    viewer_protocol_policy     = "https-only"
    allowed_methods            = ["DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT"]
    cached_methods             = ["GET", "HEAD"]
    compress                   = true
    cache_policy_id            = data.aws_cloudfront_cache_policy.caching_disabled[0].id
    origin_request_policy_id   = data.aws_cloudfront_origin_request_policy.all_viewer_except_host[0].id
    response_headers_policy_id = data.aws_cloudfront_response_headers_policy.security_headers[0].id
  }

  restrictions {
    geo_restriction {
      restriction_type = "none"
    }
  }

  viewer_certificate {
    acm_certificate_arn      = aws_acm_certificate_validation.cloudfront[0].certificate_arn
    ssl_support_method       = "sni-only"
    minimum_protocol_version = "TLSv1.2_2021"
  }

  tags = var.tags
}

# --- DNS ---

resource "aws_route53_record" "api_a" {
  zone_id = var.hosted_zone_id
  name    = var.domain_name
  type    = "A"

  alias {
    name                   = local.alias_target.name
    zone_id                = local.alias_target.zone_id
    evaluate_target_health = false
  }
}

resource "aws_route53_record" "api_aaaa" {
  count = var.cloudfront_enabled ? 1 : 0

  zone_id = var.hosted_zone_id
  name    = var.domain_name
  type    = "AAAA"

  alias {
    name                   = local.alias_target.name
    zone_id                = local.alias_target.zone_id
    evaluate_target_health = false
  }
}
