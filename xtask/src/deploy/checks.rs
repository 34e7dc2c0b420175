//! The environment's preflight checks, before anything changes: what its terraform.tfvars asks
//! for against what its account has. Each refusal is one line that names the fix; warnings
//! let the deploy go on.
//!
//! - region and account: the credentials' region is the settings' `aws_region`, their account
//!   the settings' `aws_account_id` (which prod must set; Terraform's provider refuses any
//!   other account too);
//! - concurrency: the reserved concurrency asked for fits what the account can still reserve
//!   (`lambda:GetAccountSettings`: Lambda keeps 100 unreserved; what the environment's own
//!   functions reserve today is given back first). New accounts get a quota of 10: staging may
//!   reserve none;
//! - the Gemini key: its secret has a current value (`secretsmanager:DescribeSecret`, which
//!   never reads it): a warning on staging, a refusal on prod; before the first deploy the
//!   secret does not exist yet, which is a warning;
//! - the custom domain, when on: the hosted zone exists, the deploy may use it
//!   (`route53:GetHostedZone`, allowed exactly where record changes are) and it holds the
//!   domain; no placeholder zone or domain;
//! - alerts: prod has at least one subscriber, and no placeholder address.

use std::fmt;

use crate::environment::{Env, Settings};

/// One check's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    Ok(String),
    Warn(String),
    Refuse(String),
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Finding::Ok(s) => write!(f, "-> ok: {s}"),
            Finding::Warn(s) => write!(f, "!! warning: {s}"),
            Finding::Refuse(s) => write!(f, "!! refused: {s}"),
        }
    }
}

/// Lambda's concurrency in the account and region, as `lambda:GetAccountSettings` gives it,
/// and what the environment's functions reserve today (all zero: not asked, nothing reserved).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Concurrency {
    pub limit: u32,
    pub unreserved: u32,
    pub reserved_by_environment: u32,
}

/// Lambda keeps this many concurrent executions unreserved in every account and region.
pub const MIN_UNRESERVED: u32 = 100;

impl Concurrency {
    /// What the environment can reserve in all: what is unreserved beyond Lambda's minimum,
    /// plus what its own functions hold today (a deploy replaces those reservations).
    pub fn available(&self) -> u32 {
        (self.unreserved + self.reserved_by_environment).saturating_sub(MIN_UNRESERVED)
    }
}

/// The Gemini key's secret as `DescribeSecret` sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Secret {
    /// Not created yet: the first deploy creates it.
    Missing,
    /// Created, but no version is AWSCURRENT.
    NoValue,
    Current,
}

/// The custom domain's hosted zone as `GetHostedZone` sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Zone {
    /// Its name, e.g. `imagegen.com.`.
    Found(String),
    Missing,
    Denied,
}

/// What the checks read from AWS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    pub region: Option<String>,
    pub account: String,
    pub concurrency: Concurrency,
    pub secret: Secret,
    /// None when the environment has no custom domain.
    pub zone: Option<Zone>,
}

/// The Gemini key's secret of an environment, as modules/stack names it.
pub fn gemini_secret_name(env: Env) -> String {
    format!("imagegen/{env}/gemini-api-key")
}

/// The environment's functions, as modules/stack names them.
pub fn function_names(env: Env) -> [String; 2] {
    [
        format!("imagegen-{env}-api"),
        format!("imagegen-{env}-worker"),
    ]
}

/// Every check, in order, for `env` with `settings` against what was `observed`.
pub fn findings(env: Env, settings: &Settings, observed: &Observed) -> Vec<Finding> {
    let file = format!("environments/{env}/terraform.tfvars");
    let prod = env == Env::Prod;
    let mut out = Vec::new();

    out.push(match &observed.region {
        Some(region) if *region == settings.aws_region => Finding::Ok(format!("region {region}")),
        Some(region) => Finding::Refuse(format!(
            "the AWS region is {region}, but {file} deploys to {}: set AWS_REGION={}",
            settings.aws_region, settings.aws_region
        )),
        None => Finding::Refuse(format!(
            "no AWS region is set: set AWS_REGION={} (the aws_region of {file})",
            settings.aws_region
        )),
    });

    out.push(match settings.aws_account_id.as_deref() {
        Some(id) if is_placeholder_account(id) => Finding::Refuse(format!(
            "aws_account_id in {file} is the placeholder {id}: set it to {env}'s account ID"
        )),
        Some(id) if id == observed.account => Finding::Ok(format!("account {id}")),
        Some(id) => Finding::Refuse(format!(
            "these credentials are for account {}, but {file} deploys to {id}: use that \
             account's credentials (AWS_PROFILE)",
            observed.account
        )),
        None if prod => Finding::Refuse(format!(
            "{file} names no aws_account_id: set prod's account ID, so no deploy reaches \
             another account by mistake"
        )),
        None => Finding::Ok(format!(
            "account {} (aws_account_id not set: any)",
            observed.account
        )),
    });

    let wanted = settings.reserved_concurrency();
    let available = observed.concurrency.available();
    out.push(if wanted == 0 {
        Finding::Ok("no reserved concurrency asked for".to_owned())
    } else if wanted <= available {
        Finding::Ok(format!(
            "reserved concurrency {wanted} of the {available} the account can still reserve"
        ))
    } else {
        Finding::Refuse(format!(
            "{file} reserves {wanted} concurrent executions (api {}, worker {}), but the \
             account can reserve {available} in {} (its limit is {}, Lambda keeps {MIN_UNRESERVED} \
             unreserved): request a higher Lambda 'Concurrent executions' quota (Service Quotas, \
             L-B99A9384) or lower api_reserved_concurrency and worker_reserved_concurrency \
             (null reserves none)",
            settings.api_reserved_concurrency.unwrap_or(0),
            settings.worker_reserved_concurrency.unwrap_or(0),
            settings.aws_region,
            observed.concurrency.limit
        ))
    });

    let set_key = format!("run `cargo xtask secrets set-gemini-key --env {env}`");
    out.push(match observed.secret {
        Secret::Current => Finding::Ok("the Gemini API key has a value".to_owned()),
        Secret::Missing => Finding::Warn(format!(
            "first deploy: the Gemini API key's secret does not exist yet; {set_key} right \
             after it (image jobs fail until then)"
        )),
        Secret::NoValue if prod => Finding::Refuse(format!(
            "the Gemini API key of prod has no value: {set_key} first (image jobs fail \
             without it)"
        )),
        Secret::NoValue => Finding::Warn(format!(
            "the Gemini API key has no value: {set_key} (image jobs fail until then)"
        )),
    });

    if settings.domain_enabled {
        out.push(domain(
            env,
            settings,
            observed.zone.as_ref(),
            &observed.account,
            &file,
        ));
    }

    let placeholders: Vec<&str> = settings
        .alert_emails
        .iter()
        .map(String::as_str)
        .filter(|e| {
            e.rsplit_once('@')
                .is_none_or(|(_, d)| is_placeholder_domain(d))
        })
        .collect();
    let alerts = if settings.alert_emails.is_empty() {
        Some(format!(
            "{env} has no alert subscriber: set alert_emails in {file} (its alarms and budget \
             notify nobody otherwise)"
        ))
    } else if !placeholders.is_empty() {
        Some(format!(
            "alert_emails in {file} holds placeholder addresses ({}): put real ones",
            placeholders.join(", ")
        ))
    } else {
        None
    };
    out.push(match alerts {
        None => Finding::Ok(format!(
            "{} alert subscriber{}",
            settings.alert_emails.len(),
            if settings.alert_emails.len() == 1 {
                ""
            } else {
                "s"
            }
        )),
        Some(problem) if prod => Finding::Refuse(problem),
        Some(problem) => Finding::Warn(problem),
    });
    out
}

fn domain(
    env: Env,
    settings: &Settings,
    zone: Option<&Zone>,
    account: &str,
    file: &str,
) -> Finding {
    let name = settings.domain_name.as_deref().unwrap_or("");
    let Some(id) = settings.hosted_zone_id.as_deref() else {
        return Finding::Refuse(format!(
            "domain_enabled is true but {file} sets no hosted_zone_id"
        ));
    };
    if name.is_empty() || is_placeholder_domain(name) {
        return Finding::Refuse(format!(
            "domain_name in {file} is the placeholder `{name}`: set {env}'s real domain or \
             domain_enabled = false"
        ));
    }
    if is_placeholder_zone(id) {
        return Finding::Refuse(format!(
            "hosted_zone_id in {file} is the placeholder {id}: set the Route 53 zone of {name}"
        ));
    }
    match zone {
        None => Finding::Refuse(format!("internal: hosted zone {id} was not looked up")),
        Some(Zone::Missing) => Finding::Refuse(format!(
            "hosted zone {id} (hosted_zone_id in {file}) does not exist in account {account}: \
             create it, or fix the ID"
        )),
        Some(Zone::Denied) => Finding::Refuse(format!(
            "the deploy may not use hosted zone {id}: add it to deploy_environments.{env}.\
             hosted_zone_ids in environments/bootstrap and apply the bootstrap"
        )),
        Some(Zone::Found(zone_name)) => {
            let zone_name = zone_name.trim_end_matches('.');
            if name == zone_name || name.ends_with(&format!(".{zone_name}")) {
                Finding::Ok(format!("{name} in hosted zone {id} ({zone_name})"))
            } else {
                Finding::Refuse(format!(
                    "domain_name {name} is not inside hosted zone {id} ({zone_name}): fix \
                     domain_name or hosted_zone_id in {file}"
                ))
            }
        }
    }
}

/// Names reserved for examples (RFC 2606, RFC 6761): a template's, never a real one.
fn is_placeholder_domain(domain: &str) -> bool {
    let domain = domain.trim_end_matches('.').to_ascii_lowercase();
    ["example.com", "example.net", "example.org"]
        .iter()
        .any(|d| domain == *d || domain.ends_with(&format!(".{d}")))
        || ["example", "invalid", "localhost", "test"]
            .iter()
            .any(|tld| domain == *tld || domain.ends_with(&format!(".{tld}")))
}

fn is_placeholder_zone(id: &str) -> bool {
    id.strip_prefix('Z')
        .is_some_and(|rest| !rest.is_empty() && rest.bytes().all(|b| b == b'0'))
}

fn is_placeholder_account(id: &str) -> bool {
    !id.is_empty() && id.bytes().all(|b| b == b'0')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(env: Env) -> Settings {
        Settings {
            environment: env.name().to_owned(),
            aws_region: "eu-west-1".to_owned(),
            aws_account_id: Some("111122223333".to_owned()),
            api_reserved_concurrency: Some(100),
            worker_reserved_concurrency: Some(25),
            domain_enabled: true,
            domain_name: Some("api.imagegen.dev".to_owned()),
            hosted_zone_id: Some("Z123ABC".to_owned()),
            alert_emails: vec!["oncall@imagegen.dev".to_owned()],
        }
    }

    fn observed() -> Observed {
        Observed {
            region: Some("eu-west-1".to_owned()),
            account: "111122223333".to_owned(),
            concurrency: Concurrency {
                limit: 1000,
                unreserved: 1000,
                reserved_by_environment: 0,
            },
            secret: Secret::Current,
            zone: Some(Zone::Found("imagegen.dev.".to_owned())),
        }
    }

    fn refusals(findings: &[Finding]) -> Vec<&str> {
        findings
            .iter()
            .filter_map(|f| match f {
                Finding::Refuse(s) => Some(s.as_str()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_ready_prod_passes_every_check() {
        let findings = findings(Env::Prod, &settings(Env::Prod), &observed());
        assert!(
            findings.iter().all(|f| matches!(f, Finding::Ok(_))),
            "{findings:?}"
        );
        assert_eq!(findings.len(), 6);
    }

    #[test]
    fn a_new_accounts_quota_refuses_prods_reservations_and_staging_may_reserve_none() {
        let mut seen = observed();
        // A new account: a limit of 10, all of it unreserved.
        seen.concurrency = Concurrency {
            limit: 10,
            unreserved: 10,
            reserved_by_environment: 0,
        };
        let prod = findings(Env::Prod, &settings(Env::Prod), &seen);
        let refused = refusals(&prod);
        assert_eq!(refused.len(), 1, "{prod:?}");
        assert!(
            refused[0].contains("reserves 125 concurrent executions (api 100, worker 25)")
                && refused[0].contains("can reserve 0")
                && refused[0].contains("L-B99A9384"),
            "{}",
            refused[0]
        );
        let mut staging = settings(Env::Staging);
        staging.api_reserved_concurrency = None;
        staging.worker_reserved_concurrency = None;
        assert!(refusals(&findings(Env::Staging, &staging, &seen)).is_empty());
    }

    #[test]
    fn what_the_environment_reserves_today_is_given_back_first() {
        let mut seen = observed();
        seen.concurrency = Concurrency {
            limit: 1000,
            unreserved: 100,
            reserved_by_environment: 125,
        };
        assert_eq!(seen.concurrency.available(), 125);
        assert!(refusals(&findings(Env::Prod, &settings(Env::Prod), &seen)).is_empty());
        seen.concurrency.reserved_by_environment = 124;
        assert_eq!(
            refusals(&findings(Env::Prod, &settings(Env::Prod), &seen)).len(),
            1
        );
    }

    #[test]
    fn region_and_account_must_be_the_settings() {
        let mut seen = observed();
        seen.region = Some("us-east-1".to_owned());
        seen.account = "444455556666".to_owned();
        let prod = findings(Env::Prod, &settings(Env::Prod), &seen);
        let refused = refusals(&prod);
        assert!(
            refused[0].contains("set AWS_REGION=eu-west-1"),
            "{refused:?}"
        );
        assert!(refused[1].contains("account 444455556666") && refused[1].contains("111122223333"));
        let mut unnamed = settings(Env::Prod);
        unnamed.aws_account_id = None;
        assert!(
            refusals(&findings(Env::Prod, &unnamed, &observed()))[0]
                .contains("names no aws_account_id")
        );
        let mut staging = settings(Env::Staging);
        staging.aws_account_id = None;
        assert!(refusals(&findings(Env::Staging, &staging, &observed())).is_empty());
        unnamed.aws_account_id = Some("000000000000".to_owned());
        assert!(refusals(&findings(Env::Prod, &unnamed, &observed()))[0].contains("placeholder"));
    }

    #[test]
    fn a_gemini_key_without_a_value_warns_on_staging_and_refuses_prod() {
        let mut seen = observed();
        seen.secret = Secret::NoValue;
        let prod = findings(Env::Prod, &settings(Env::Prod), &seen);
        assert!(
            refusals(&prod)[0].contains("set-gemini-key --env prod"),
            "{prod:?}"
        );
        let staging = findings(Env::Staging, &settings(Env::Staging), &seen);
        assert!(refusals(&staging).is_empty());
        assert!(
            staging.iter().any(
                |f| matches!(f, Finding::Warn(s) if s.contains("set-gemini-key --env staging"))
            )
        );
        // Before the first deploy the secret does not exist: a warning, even for prod.
        seen.secret = Secret::Missing;
        let first = findings(Env::Prod, &settings(Env::Prod), &seen);
        assert!(refusals(&first).is_empty(), "{first:?}");
        assert!(
            first
                .iter()
                .any(|f| matches!(f, Finding::Warn(s) if s.contains("first deploy")))
        );
    }

    #[test]
    fn a_custom_domain_needs_its_real_zone_which_the_deploy_may_use() {
        let check = |zone: Zone, name: &str, id: &str| {
            let mut s = settings(Env::Prod);
            s.domain_name = Some(name.to_owned());
            s.hosted_zone_id = Some(id.to_owned());
            let mut seen = observed();
            seen.zone = Some(zone);
            refusals(&findings(Env::Prod, &s, &seen)).join("\n")
        };
        let found = || Zone::Found("imagegen.dev.".to_owned());
        assert_eq!(check(found(), "api.imagegen.dev", "Z123ABC"), "");
        assert_eq!(check(found(), "imagegen.dev", "Z123ABC"), "");
        assert!(check(Zone::Missing, "api.imagegen.dev", "Z123ABC").contains("does not exist"));
        assert!(
            check(Zone::Denied, "api.imagegen.dev", "Z123ABC")
                .contains("deploy_environments.prod.hosted_zone_ids")
        );
        assert!(check(found(), "api.other.dev", "Z123ABC").contains("not inside hosted zone"));
        assert!(
            check(found(), "api.notimagegen.dev", "Z123ABC").contains("not inside hosted zone")
        );
        assert!(check(found(), "api.imagegen.example.com", "Z123ABC").contains("placeholder"));
        assert!(
            check(found(), "api.imagegen.dev", "Z0000000000000000000")
                .contains("placeholder Z0000000000000000000")
        );
        // No domain: no zone to check.
        let mut off = settings(Env::Prod);
        off.domain_enabled = false;
        let mut seen = observed();
        seen.zone = None;
        assert_eq!(findings(Env::Prod, &off, &seen).len(), 5);
    }

    #[test]
    fn prod_needs_a_real_alert_subscriber_and_staging_is_told() {
        let mut none = settings(Env::Prod);
        none.alert_emails.clear();
        assert!(
            refusals(&findings(Env::Prod, &none, &observed()))[0].contains("no alert subscriber")
        );
        let mut example = settings(Env::Prod);
        example.alert_emails = vec![
            "imagegen-oncall@example.com".to_owned(),
            "ops@imagegen.dev".to_owned(),
        ];
        let refused = refusals(&findings(Env::Prod, &example, &observed())).join("\n");
        assert!(
            refused.contains("placeholder addresses (imagegen-oncall@example.com)"),
            "{refused}"
        );
        let mut staging = settings(Env::Staging);
        staging.alert_emails.clear();
        let staging = findings(Env::Staging, &staging, &observed());
        assert!(refusals(&staging).is_empty());
        assert!(
            staging
                .iter()
                .any(|f| matches!(f, Finding::Warn(s) if s.contains("no alert subscriber")))
        );
    }

    #[test]
    fn the_repositorys_prod_template_is_refused_until_its_placeholders_are_replaced() {
        let text = std::fs::read_to_string(
            crate::project_root().join("environments/prod/terraform.tfvars"),
        )
        .unwrap();
        let template = Settings::parse(&text).unwrap();
        let mut seen = observed();
        seen.zone = Some(Zone::Found("imagegen.example.com.".to_owned()));
        let refused = refusals(&findings(Env::Prod, &template, &seen)).join("\n");
        for placeholder in ["aws_account_id", "domain_name", "alert_emails"] {
            assert!(
                refused.contains(placeholder),
                "{placeholder} not refused:\n{refused}"
            );
        }
    }
}
