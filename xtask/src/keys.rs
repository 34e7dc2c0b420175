//! `cargo xtask keys create|rotate|revoke|list|prune --env …`: an environment's API keys, in
//! both places a request meets them: the service's store and API Gateway (the REST API checks
//! `x-api-key` before the Lambda runs, so every secret the service accepts also exists there as
//! an API key with the same value, on a usage plan).
//!
//! The work is the service's own key-management use case (`imagegen::usecases::keys`), the
//! one `POST /v1/admin/keys…` runs, over the environment's DynamoDB store and API Gateway.
//! The store decides; the gateway follows. API Gateway cannot expire a key, so every command
//! prunes the gateway keys whose secret the service no longer accepts (`ApiKey::verify`:
//! revoked, expired, rotated out after the grace, or unknown). Until one runs, such a key
//! still passes the gateway and gets a 401 from the service.
//!
//! The key itself is printed once, to stdout, by `create` and `rotate`; everything else goes
//! to stderr, so `KEY=$(cargo xtask keys create …)` captures just the key.

use std::io::IsTerminal;

use anyhow::{Context, anyhow, bail};
use imagegen::config::{Config, Vars};
use imagegen::domain::keys::{ApiKey, KeyStatus, NewKey, Scope};
use imagegen::gateway::api_gateway::{ApiGatewayKeys, Plans};
use imagegen::store::dynamo::{DynamoStore, TableNames};
use imagegen::usecases::keys::{Issued, KeyError, Keys, Pruned, View};
use time::OffsetDateTime;
use xshell::Shell;

use crate::aws::describe;
use crate::flags::{KeyIdArgs, KeysArgs, KeysCommand, KeysCreateArgs, KeysRotateArgs};
use crate::ops::Connected;

pub fn run(sh: &Shell, args: KeysArgs) -> crate::Result<()> {
    let env = match &args.command {
        KeysCommand::Create(a) => a.env,
        KeysCommand::Rotate(a) => a.env,
        KeysCommand::Revoke(a) => a.env,
        KeysCommand::List(a) | KeysCommand::Prune(a) => a.env,
    };
    let runtime = crate::aws::runtime()?;
    let connected = crate::ops::connect(sh, &runtime, env)?;
    let command = Command::new(&connected)?;
    runtime.block_on(async {
        match args.command {
            KeysCommand::Create(a) => command.create(a).await,
            KeysCommand::Rotate(a) => command.rotate(a).await,
            KeysCommand::Revoke(a) => command.revoke(a).await,
            KeysCommand::List(_) => command.list().await,
            KeysCommand::Prune(_) => command.view().await.map(drop),
        }
    })
}

struct Command<'a> {
    env: &'a Connected,
    store: DynamoStore,
    table: String,
    gateway: ApiGatewayKeys,
}

impl<'a> Command<'a> {
    fn new(env: &'a Connected) -> crate::Result<Self> {
        let outputs = &env.outputs;
        let tables = TableNames {
            jobs: outputs.table("jobs")?.to_owned(),
            api_keys: outputs.table("api_keys")?.to_owned(),
            counters: outputs.table("counters")?.to_owned(),
            idempotency: outputs.table("idempotency")?.to_owned(),
            webhooks: outputs.table("webhooks")?.to_owned(),
        };
        let table = tables.api_keys.clone();
        let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&env.sdk), tables);
        let gateway = ApiGatewayKeys::new(
            aws_sdk_apigateway::Client::new(&env.sdk),
            env.env.name(),
            outputs.rest_api_id.clone(),
            Plans::Known(outputs.usage_plan_ids.clone()),
        );
        Ok(Self {
            env,
            store,
            table,
            gateway,
        })
    }

    fn keys(&self) -> Keys<'_> {
        Keys::new(&self.store, Some(&self.gateway))
    }

    /// The use case's error, with the table a store error came from.
    fn error(&self, e: KeyError) -> anyhow::Error {
        match e {
            KeyError::Store(e) => anyhow!("the key store ({}): {e}", self.table),
            KeyError::NotFound(id) => anyhow!("no key {id} in {}", self.table),
            other => anyhow::Error::msg(other),
        }
    }

    async fn create(&self, args: KeysCreateArgs) -> crate::Result<()> {
        let request = NewKey {
            tenant: args.tenant,
            scopes: args.scopes,
            limits: imagegen::domain::keys::KeyLimits {
                rate_per_minute: args.rate_per_minute,
                burst: args.burst,
                daily_quota: args.daily_quota,
                monthly_quota: args.monthly_quota,
                daily_refusal_limit: args.daily_refusal_limit,
            },
            expires_at: args.expires_at,
            // Set over HTTP (`POST /v1/admin/keys`), where its URL is checked.
            webhook: None,
        };
        let issued = self
            .keys()
            .create(request, args.plan.as_deref(), OffsetDateTime::now_utc())
            .await
            .map_err(|e| self.error(e))?;
        let key = &issued.key;
        eprintln!(
            "stored key {} of tenant {} ({}) in {}",
            key.key_id,
            key.tenant,
            scopes(key),
            self.table
        );
        self.report(&issued, "registered with API Gateway");
        Ok(())
    }

    /// Where the gateway half went, any pruning trouble, and the key (once).
    fn report(&self, issued: &Issued, what: &str) {
        if let Some(r) = &issued.registered {
            eprintln!(
                "{what}: key {} ({}) on usage plan {} ({})",
                r.gateway_id, r.name, r.plan.name, r.plan.id
            );
        }
        if let Some(warning) = &issued.prune_warning {
            eprintln!("warning: {warning}");
        }
        show_key(&self.env.outputs.api_url, &issued.key, &issued.plaintext);
    }

    async fn rotate(&self, args: KeysRotateArgs) -> crate::Result<()> {
        let now = OffsetDateTime::now_utc();
        // Checked before reading the grace, so a revoked key is named as such.
        let key = self
            .keys()
            .active(&args.key_id, now)
            .await
            .map_err(|e| self.error(e))?;
        let grace = match args.grace {
            Some(grace) => grace,
            None => self.deployed_grace().await?,
        };
        let issued = self
            .keys()
            .rotate(
                key,
                time::Duration::try_from(grace)?,
                args.plan.as_deref(),
                now,
            )
            .await
            .map_err(|e| self.error(e))?;
        let until = issued
            .key
            .previous
            .as_ref()
            .map_or_else(|| "now".to_owned(), |p| timestamp(p.valid_until));
        eprintln!(
            "rotated key {} in {}; the old secret works until {until}",
            issued.key.key_id, self.table
        );
        self.report(&issued, "registered the new secret with API Gateway");
        Ok(())
    }

    async fn revoke(&self, args: KeyIdArgs) -> crate::Result<()> {
        let now = OffsetDateTime::now_utc();
        let keys = self.keys();
        let key = keys
            .existing(&args.key_id)
            .await
            .map_err(|e| self.error(e))?;
        let revoked = keys.revoke(key, now).await.map_err(|e| self.error(e))?;
        let key = &revoked.key;
        if revoked.was_active {
            eprintln!("revoked key {} in {}", key.key_id, self.table);
        } else {
            // Still prunes: revoking again repairs a gateway left behind by a failed delete.
            eprintln!(
                "key {} is already {} in {}",
                key.key_id,
                key.status(now).as_str(),
                self.table
            );
        }
        for p in &revoked.pruned {
            eprintln!(
                "pruned API Gateway key {} ({}): {}",
                p.gateway.id, p.name, p.why
            );
        }
        match revoked.gateway {
            Pruned::Deleted(deleted) => {
                eprintln!(
                    "key {} revoked; {deleted} API Gateway key(s) deleted",
                    key.key_id
                );
                Ok(())
            }
            Pruned::Left(left) => bail!(
                "key {} is revoked in the store (the service refuses it), but API Gateway keys \
                 {} could not be deleted; run the command again",
                key.key_id,
                left.join(", ")
            ),
            Pruned::Unchecked(e) => bail!(
                "key {} is revoked in the store (the service refuses it), but its API Gateway \
                 keys could not be checked ({e}); run the command again",
                key.key_id
            ),
            Pruned::NoGateway => Ok(()),
        }
    }

    async fn list(&self) -> crate::Result<()> {
        let view = self.view().await?;
        let now = OffsetDateTime::now_utc();
        if view.stored.is_empty() {
            eprintln!("no keys in {}", self.table);
            return Ok(());
        }
        let mut keys: Vec<&ApiKey> = view.stored.values().collect();
        keys.sort_by(|a, b| (&a.tenant, a.created_at).cmp(&(&b.tenant, b.created_at)));
        let rows: Vec<[String; 8]> = keys.iter().map(|k| row(k, &view, now)).collect();
        print!("{}", table(&rows));
        Ok(())
    }

    /// Prunes, and says what it pruned and what it could not.
    async fn view(&self) -> crate::Result<View> {
        let view = self
            .keys()
            .view(OffsetDateTime::now_utc())
            .await
            .map_err(|e| self.error(e))?;
        for p in &view.pruned {
            eprintln!(
                "pruned API Gateway key {} ({}): {}",
                p.gateway.id, p.name, p.why
            );
        }
        for (p, e) in &view.failed {
            eprintln!(
                "warning: API Gateway key {} ({}) stays: {e}",
                p.gateway.id, p.why
            );
        }
        Ok(view)
    }

    /// The grace the admin endpoint would use: the API function's configuration (its `live`
    /// alias, the version serving traffic), read by the service's own config parser.
    async fn deployed_grace(&self) -> crate::Result<std::time::Duration> {
        let function = &self.env.outputs.api_function_name;
        let out = aws_sdk_lambda::Client::new(&self.env.sdk)
            .get_function_configuration()
            .function_name(function)
            .qualifier("live")
            .send()
            .await
            .map_err(|e| {
                anyhow!(
                    "cannot read the rotation grace from the API function {function}:live ({}); \
                     pass --grace",
                    describe(&e)
                )
            })?;
        let vars = out
            .environment()
            .and_then(|e| e.variables())
            .cloned()
            .unwrap_or_default();
        let grace = grace_from(&vars)
            .with_context(|| format!("the API function {function} is misconfigured"))?;
        eprintln!(
            "rotation grace {} s (from {function}:live)",
            grace.as_secs()
        );
        Ok(grace)
    }
}

fn grace_from(
    vars: &std::collections::HashMap<String, String>,
) -> Result<std::time::Duration, imagegen::config::ConfigError> {
    Ok(Config::from_vars(&Vars(|name: &str| vars.get(name).cloned()))?.key_rotation_grace)
}

fn scopes(key: &ApiKey) -> String {
    key.scopes
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

/// UTC, to the second.
fn timestamp(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    let format =
        time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    t.format(&format)
        .unwrap_or_else(|_| t.unix_timestamp().to_string())
}

const HEADER: [&str; 8] = [
    "KEY ID",
    "TENANT",
    "SCOPES",
    "STATUS",
    "CREATED",
    "EXPIRES",
    "GRACE ENDS",
    "GATEWAY",
];

/// One line of `keys list`: no secret, no digest.
fn row(key: &ApiKey, view: &View, now: OffsetDateTime) -> [String; 8] {
    let status = key.status(now);
    let grace_ends = match (status, &key.previous) {
        (KeyStatus::Rotating, Some(p)) => timestamp(p.valid_until),
        _ => "-".to_owned(),
    };
    [
        key.key_id.clone(),
        key.tenant.clone(),
        scopes(key),
        status.as_str().to_owned(),
        timestamp(key.created_at),
        key.expires_at.map_or_else(|| "never".to_owned(), timestamp),
        grace_ends,
        view.registration(key, now).to_owned(),
    ]
}

fn table(rows: &[[String; 8]]) -> String {
    let mut widths = HEADER.map(str::len);
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.len());
        }
    }
    let line = |cells: [&str; 8]| {
        let padded: Vec<String> = cells
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        format!("{}\n", padded.join("  ").trim_end())
    };
    let mut out = line(HEADER);
    for row in rows {
        out.push_str(&line(row.each_ref().map(String::as_str)));
    }
    out
}

/// The key, once, on stdout. On a terminal with a curl to try it; into a pipe or a file the
/// key alone (the curl, with `$KEY` in its place, goes to stderr).
fn show_key(api_url: &str, key: &ApiKey, plaintext: &str) {
    if std::io::stdout().is_terminal() {
        println!("{plaintext}");
        println!();
        println!("This key is shown once: store it now. Try it:");
        println!("  {}", curl(api_url, key, plaintext));
    } else {
        println!("{plaintext}");
        eprintln!("the key went to stdout (shown once: store it now); try it with");
        eprintln!("  {}", curl(api_url, key, "$KEY"));
    }
}

/// A request the key's scopes allow, against the environment's API.
fn curl(api_url: &str, key: &ApiKey, key_expr: &str) -> String {
    let base = api_url.trim_end_matches('/');
    let header = format!("-H \"x-api-key: {key_expr}\"");
    if key.allows(Scope::UsageRead) {
        format!("curl -sS \"{base}/v1/usage\" {header}")
    } else if key.allows(Scope::JobsRead) {
        format!("curl -sS \"{base}/v1/jobs\" {header}")
    } else {
        format!(
            "curl -sS -X POST \"{base}/v1/images\" {header} -H 'content-type: application/json' \
             -d '{{\"prompt\":\"a lighthouse at dusk\"}}'"
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use imagegen::domain::keys::{KeyLimits, issue};
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-11-26 12:00 UTC);

    fn key(scopes: &[Scope]) -> (ApiKey, String) {
        issue("acme", scopes.to_vec(), KeyLimits::default(), None, NOW)
    }

    #[test]
    fn the_curl_uses_a_route_the_key_may_call() {
        let api = "https://abc.execute-api.eu-west-1.amazonaws.com/v1/";
        let (reader, _) = key(&[Scope::JobsRead, Scope::UsageRead]);
        assert_eq!(
            curl(api, &reader, "$KEY"),
            "curl -sS \"https://abc.execute-api.eu-west-1.amazonaws.com/v1/v1/usage\" \
             -H \"x-api-key: $KEY\""
        );
        let (jobs, _) = key(&[Scope::JobsRead]);
        assert!(curl(api, &jobs, "$KEY").contains("/v1/jobs\""));
        let (writer, plaintext) = key(&[Scope::ImagesWrite]);
        let line = curl(api, &writer, &plaintext);
        assert!(
            line.contains("-X POST") && line.contains(&plaintext),
            "{line}"
        );
    }

    #[test]
    fn the_list_shows_status_and_registration_and_never_a_secret_or_digest() {
        let (active, _) = key(&[Scope::JobsRead]);
        let (rotating, _) = key(&[Scope::UsageRead]);
        let (rotating, _) = rotating.rotated(NOW, time::Duration::hours(1));
        let revoked = key(&[Scope::Admin]).0.revoked(NOW);
        let view = View::default();
        let rows: Vec<_> = [&active, &rotating, &revoked]
            .iter()
            .map(|k| row(k, &view, NOW))
            .collect();
        let out = table(&rows);
        let lines: Vec<&str> = out.lines().collect();
        assert!(lines[0].starts_with("KEY ID"), "{out}");
        assert!(
            lines[1].contains(" active ") && lines[1].ends_with("missing"),
            "{out}"
        );
        assert!(lines[2].contains(" rotating ") && lines[2].contains("2026-11-26T13:00:00Z"));
        assert!(
            lines[3].contains(" revoked ") && lines[3].ends_with('-'),
            "{out}"
        );
        for k in [&active, &rotating, &revoked] {
            assert!(!out.contains(&k.secret_sha256));
        }
    }

    #[test]
    fn the_grace_comes_from_the_functions_own_variables() {
        let mut vars = std::collections::HashMap::new();
        assert_eq!(
            grace_from(&vars).unwrap(),
            Config::default().key_rotation_grace
        );
        vars.insert(
            "IMAGEGEN_KEY_ROTATION_GRACE_SECONDS".to_owned(),
            "600".to_owned(),
        );
        assert_eq!(grace_from(&vars).unwrap().as_secs(), 600);
        vars.insert(
            "IMAGEGEN_KEY_ROTATION_GRACE_SECONDS".to_owned(),
            "soon".to_owned(),
        );
        assert!(
            grace_from(&vars)
                .unwrap_err()
                .to_string()
                .contains("IMAGEGEN_KEY_ROTATION_GRACE_SECONDS")
        );
    }
}
