//! `cargo xtask keys create|rotate|revoke|list|prune --env …`: an environment's API keys, in
//! both places a request meets them.
//!
//! - The service's store: keys are issued, rotated and revoked by the `imagegen` crate's own
//!   domain rules (`NewKey::issue`, `ApiKey::rotated`, `ApiKey::revoked`) and written by its
//!   DynamoDB store, exactly as the admin endpoints do.
//! - API Gateway: the REST API checks `x-api-key` before the Lambda runs, so every secret the
//!   service accepts also exists there as an API key with the same value, on a usage plan
//!   ([`gateway`]).
//!
//! The store decides; the gateway follows. API Gateway cannot expire a key, so every command
//! prunes the gateway keys whose secret the service no longer accepts (`ApiKey::verify`:
//! revoked, expired, rotated out after the grace, or unknown). Until one runs, such a key
//! still passes the gateway and gets a 401 from the service.
//!
//! The key itself is printed once, to stdout, by `create` and `rotate`; everything else goes
//! to stderr, so `KEY=$(cargo xtask keys create …)` captures just the key.

mod gateway;

use std::collections::BTreeMap;
use std::io::IsTerminal;

use imagegen::config::{Config, Vars};
use imagegen::domain::keys::{ApiKey, KeyStatus, NewKey, Scope, sha256_hex};
use imagegen::store::dynamo::{DynamoStore, TableNames};
use imagegen::store::{Store, StoreError, all_keys};
use time::OffsetDateTime;
use xshell::Shell;

use crate::aws::describe;
use crate::flags::{KeyIdArgs, KeysArgs, KeysCommand, KeysCreateArgs, KeysRotateArgs};
use crate::ops::Connected;
use gateway::{Gateway, GatewayKey};

pub fn run(sh: &Shell, args: KeysArgs) -> crate::Result<()> {
    let env = match &args.command {
        KeysCommand::Create(a) => a.env,
        KeysCommand::Rotate(a) => a.env,
        KeysCommand::Revoke(a) => a.env,
        KeysCommand::List(a) | KeysCommand::Prune(a) => a.env,
    };
    let runtime = crate::aws::runtime()?;
    let connected = crate::ops::connect(sh, &runtime, env)?;
    let keys = Keys::new(&connected)?;
    runtime.block_on(async {
        match args.command {
            KeysCommand::Create(a) => keys.create(a).await,
            KeysCommand::Rotate(a) => keys.rotate(a).await,
            KeysCommand::Revoke(a) => keys.revoke(a).await,
            KeysCommand::List(_) => keys.list().await,
            KeysCommand::Prune(_) => keys.prune().await.map(drop),
        }
    })
}

struct Keys<'a> {
    env: &'a Connected,
    store: DynamoStore,
    table: String,
    gateway: Gateway,
}

/// The gateway after pruning, beside the store it was judged against.
struct View {
    stored: BTreeMap<String, ApiKey>,
    gateway: Vec<GatewayKey>,
    pruned: Vec<GatewayKey>,
}

impl View {
    fn gateway_keys_of<'v>(&'v self, key_id: &'v str) -> impl Iterator<Item = &'v GatewayKey> {
        self.gateway.iter().filter(move |g| g.key_id == key_id)
    }

    /// `registered`: the current secret is on the gateway, enabled, on a plan. `missing`: an
    /// active key the gateway would refuse. `stale`: the gateway holds a secret the service
    /// refuses (a prune failed). `-`: an inactive key with nothing left on the gateway.
    fn registration(&self, key: &ApiKey, now: OffsetDateTime) -> &'static str {
        let mut mine = self.gateway_keys_of(&key.key_id).peekable();
        if mine.peek().is_none() && !key.is_active(now) {
            return "-";
        }
        let mine: Vec<_> = mine.collect();
        if mine.iter().any(|g| key.verify(g.secret(), now).is_err()) {
            "stale"
        } else if self.current(key).is_some() {
            "registered"
        } else {
            "missing"
        }
    }

    /// The gateway key holding `key`'s current secret, enabled and on a plan.
    fn current(&self, key: &ApiKey) -> Option<&GatewayKey> {
        self.gateway.iter().find(|g| {
            g.key_id == key.key_id
                && g.enabled
                && !g.plans.is_empty()
                && sha256_hex(g.secret()) == key.secret_sha256
        })
    }
}

impl<'a> Keys<'a> {
    fn new(env: &'a Connected) -> crate::Result<Self> {
        let outputs = &env.outputs;
        let tables = TableNames {
            jobs: outputs.table("jobs")?.to_owned(),
            api_keys: outputs.table("api_keys")?.to_owned(),
            counters: outputs.table("counters")?.to_owned(),
            idempotency: outputs.table("idempotency")?.to_owned(),
        };
        let table = tables.api_keys.clone();
        let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&env.sdk), tables);
        Ok(Self {
            env,
            store,
            table,
            gateway: Gateway::new(&env.sdk, env.env),
        })
    }

    fn plan_ids(&self) -> Vec<&str> {
        self.env
            .outputs
            .usage_plan_ids
            .values()
            .map(String::as_str)
            .collect()
    }

    fn store_error(&self, e: StoreError) -> String {
        format!("the key store ({}): {e}", self.table)
    }

    async fn create(&self, args: KeysCreateArgs) -> crate::Result<()> {
        let outputs = &self.env.outputs;
        // Before any write: a wrong --plan changes nothing.
        let (plan_name, plan_id) = outputs.usage_plan(args.plan.as_deref())?;
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
        };
        let (key, plaintext) = request.issue(OffsetDateTime::now_utc())?;
        self.store
            .create_key(&key)
            .await
            .map_err(|e| self.store_error(e))?;
        eprintln!(
            "stored key {} of tenant {} ({}) in {}",
            key.key_id,
            key.tenant,
            scopes(&key),
            self.table
        );
        let registered = self
            .gateway
            .register(plan_id, &outputs.rest_api_id, &key, &plaintext)
            .await;
        let gateway_id = match registered {
            Ok(id) => id,
            Err(e) => return Err(self.undo_create(&key, &e.to_string()).await.into()),
        };
        eprintln!(
            "registered with API Gateway: key {gateway_id} ({}) on usage plan {plan_name} \
             ({plan_id})",
            gateway::name(self.env.env, &key.key_id)
        );
        self.prune_after_change().await;
        show_key(&outputs.api_url, &key, &plaintext);
        Ok(())
    }

    /// A key the gateway does not know must not work at the service either: revoke it.
    async fn undo_create(&self, key: &ApiKey, why: &str) -> String {
        let revoked = key.revoked(OffsetDateTime::now_utc());
        match self.store.replace_key(&revoked, key.version).await {
            Ok(()) => format!(
                "API Gateway registration failed ({why}); key {} was revoked in the store, so \
                 nothing usable is left: fix the cause and create a new key",
                key.key_id
            ),
            Err(e) => format!(
                "API Gateway registration failed ({why}), and revoking key {} in the store \
                 failed too ({e}): run `cargo xtask keys revoke --env {} {}`",
                key.key_id, self.env.env, key.key_id
            ),
        }
    }

    async fn rotate(&self, args: KeysRotateArgs) -> crate::Result<()> {
        let key = self.active_key(&args.key_id).await?;
        let grace = match args.grace {
            Some(grace) => grace,
            None => self.deployed_grace().await?,
        };
        let view = self.prune().await?;
        let outputs = &self.env.outputs;
        // The new secret goes on the plan the current one is on, unless told otherwise.
        let (plan_name, plan_id) = match (&args.plan, view.current(&key)) {
            (None, Some(current)) => match current.plans.first() {
                Some(id) => outputs
                    .usage_plan_with_id(id)
                    .ok_or("the current secret's usage plan is not in the outputs")?,
                None => outputs.usage_plan(None)?,
            },
            (plan, _) => outputs.usage_plan(plan.as_deref())?,
        };
        let now = OffsetDateTime::now_utc();
        let (next, plaintext) = key.rotated(now, time::Duration::try_from(grace)?);
        self.store
            .replace_key(&next, key.version)
            .await
            .map_err(|e| match e {
                StoreError::Conflict(_) => format!(
                    "key {} changed while rotating it; nothing was changed, run the command again",
                    key.key_id
                ),
                other => self.store_error(other),
            })?;
        let until = next
            .previous
            .as_ref()
            .map_or_else(|| "now".to_owned(), |p| timestamp(p.valid_until));
        eprintln!(
            "rotated key {} in {}; the old secret works until {until}",
            key.key_id, self.table
        );
        let registered = self
            .gateway
            .register(plan_id, &outputs.rest_api_id, &next, &plaintext)
            .await;
        let gateway_id = match registered {
            Ok(id) => id,
            Err(e) => return Err(self.undo_rotate(&key, &next, &e.to_string()).await.into()),
        };
        eprintln!(
            "registered the new secret with API Gateway: key {gateway_id} on usage plan \
             {plan_name} ({plan_id})"
        );
        // Prunes the old secret at once when there is no grace.
        self.prune_after_change().await;
        show_key(&outputs.api_url, &next, &plaintext);
        Ok(())
    }

    /// Puts the record back as it was before the rotation (the new secret was never shown).
    async fn undo_rotate(&self, before: &ApiKey, rotated: &ApiKey, why: &str) -> String {
        let mut restored = before.clone();
        restored.version = rotated.version + 1;
        match self.store.replace_key(&restored, rotated.version).await {
            Ok(()) => format!(
                "API Gateway registration failed ({why}); the rotation was undone in the store, \
                 the old key keeps working"
            ),
            Err(e) => format!(
                "API Gateway registration failed ({why}), and undoing the rotation failed too \
                 ({e}): the old key works until the grace ends; then revoke key {} and create \
                 a new one",
                before.key_id
            ),
        }
    }

    async fn revoke(&self, args: KeyIdArgs) -> crate::Result<()> {
        let key = self.existing_key(&args.key_id).await?;
        let now = OffsetDateTime::now_utc();
        if key.is_active(now) {
            self.store
                .replace_key(&key.revoked(now), key.version)
                .await
                .map_err(|e| self.store_error(e))?;
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
        let view = self.prune().await.map_err(|e| {
            format!(
                "key {} is revoked in the store (the service refuses it), but its API Gateway \
                 keys could not be checked ({e}); run the command again",
                key.key_id
            )
        })?;
        let left: Vec<_> = view
            .gateway_keys_of(&key.key_id)
            .map(|g| g.id.as_str())
            .collect();
        if !left.is_empty() {
            return Err(format!(
                "key {} is revoked in the store (the service refuses it), but API Gateway keys \
                 {} could not be deleted; run the command again",
                key.key_id,
                left.join(", ")
            )
            .into());
        }
        let deleted = view
            .pruned
            .iter()
            .filter(|g| g.key_id == key.key_id)
            .count();
        eprintln!(
            "key {} revoked; {deleted} API Gateway key(s) deleted",
            key.key_id
        );
        Ok(())
    }

    async fn list(&self) -> crate::Result<()> {
        let view = self.prune().await?;
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

    /// After a key was created or rotated: the key must still be shown, whatever happens here.
    async fn prune_after_change(&self) {
        if let Err(e) = self.prune().await {
            eprintln!("warning: pruning API Gateway keys failed: {e}");
        }
    }

    /// Deletes every gateway key whose secret the service refuses. Reads the gateway before
    /// the store: a gateway key is created only after its store record is written, so the
    /// store read that follows always knows a key created meanwhile (it is never mistaken
    /// for an orphan).
    async fn prune(&self) -> crate::Result<View> {
        let plan_ids = self.plan_ids();
        let found = self.gateway.keys(&plan_ids).await?;
        let stored: BTreeMap<String, ApiKey> = all_keys(&self.store)
            .await
            .map_err(|e| self.store_error(e))?
            .into_iter()
            .map(|k| (k.key_id.clone(), k))
            .collect();
        let now = OffsetDateTime::now_utc();
        let mut view = View {
            stored,
            gateway: Vec::new(),
            pruned: Vec::new(),
        };
        for g in found {
            let why = match view.stored.get(&g.key_id) {
                Some(key) => refusal(key, g.secret(), now),
                // Unknown here and on none of this environment's plans: not provably ours.
                None if g.plans.is_empty() => None,
                None => Some("no such key in the store"),
            };
            let Some(why) = why else {
                view.gateway.push(g);
                continue;
            };
            match self.gateway.delete(&g.id).await {
                Ok(()) => {
                    eprintln!(
                        "pruned API Gateway key {} ({}): {why}",
                        g.id,
                        gateway::name(self.env.env, &g.key_id)
                    );
                    view.pruned.push(g);
                }
                Err(e) => {
                    eprintln!("warning: API Gateway key {} ({why}) stays: {e}", g.id);
                    view.gateway.push(g);
                }
            }
        }
        Ok(view)
    }

    async fn existing_key(&self, key_id: &str) -> crate::Result<ApiKey> {
        if !imagegen::domain::keys::valid_key_id(key_id) {
            return Err(format!(
                "`{key_id}` is not a key id (12 hex digits: the part between `igk_` and the \
                 secret)"
            )
            .into());
        }
        self.store
            .get_key(key_id)
            .await
            .map_err(|e| self.store_error(e))?
            .ok_or_else(|| format!("no key {key_id} in {}", self.table).into())
    }

    /// Like the admin endpoint: only an active key can be rotated.
    async fn active_key(&self, key_id: &str) -> crate::Result<ApiKey> {
        let key = self.existing_key(key_id).await?;
        let now = OffsetDateTime::now_utc();
        if !key.is_active(now) {
            return Err(format!(
                "key {key_id} is {}; create a new key instead",
                key.status(now).as_str()
            )
            .into());
        }
        Ok(key)
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
                format!(
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
            .map_err(|e| format!("the API function {function} is misconfigured: {e}"))?;
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

/// Why the service refuses `secret` of `key` now, if it does (`ApiKey::verify` decides).
fn refusal(key: &ApiKey, secret: &str, now: OffsetDateTime) -> Option<&'static str> {
    key.verify(secret, now).err()?;
    // By the key's state first: revoking also forgets a rotated-out secret.
    Some(match key.status(now) {
        KeyStatus::Revoked => "the key is revoked",
        KeyStatus::Expired => "the key has expired",
        KeyStatus::Active | KeyStatus::Rotating => {
            "the service no longer accepts this secret (rotated out)"
        }
    })
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
        let view = View {
            stored: BTreeMap::new(),
            gateway: Vec::new(),
            pruned: Vec::new(),
        };
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
