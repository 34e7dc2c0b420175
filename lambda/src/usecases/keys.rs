//! Key management: create, rotate, revoke and prune API keys, keeping the store and the
//! gateway in step. `POST /v1/admin/keys…` and `cargo xtask keys` both call this, so a key
//! made either way works behind API Gateway, and the rules ("only an active key can be
//! rotated", "a key the gateway refused must not work at the service") exist once.
//!
//! Order of writes: the store first, the gateway second. A key the gateway does not know
//! cannot be used (the gateway refuses it); a gateway key whose store record says no is
//! refused by the service and pruned by the next change. When the gateway write fails the
//! store write is undone, so nothing usable is left half-made.

use std::collections::BTreeMap;

use time::OffsetDateTime;

use crate::App;
use crate::domain::keys::{self, ApiKey, InvalidKey, KeyStatus, NewKey};
use crate::gateway::{GatewayKey, KeyGateway, UsagePlan};
use crate::store::{Store, StoreError, all_keys};

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("`{0}` is not a key id (12 hex digits: the part between `igk_` and the secret)")]
    MalformedId(String),
    #[error("no key {0}")]
    NotFound(String),
    #[error("key {key_id} is {status}; create a new key instead")]
    NotActive {
        key_id: String,
        status: &'static str,
    },
    #[error(transparent)]
    Invalid(#[from] InvalidKey),
    #[error("key {0} changed while it was being changed; nothing was changed, try again")]
    Changed(String),
    #[error("the key store: {0}")]
    Store(#[from] StoreError),
    #[error("no usage plan `{name}`; the environment has: {known}")]
    UnknownPlan { name: String, known: String },
    #[error("several usage plans ({0}); pick one")]
    AmbiguousPlan(String),
    /// The gateway failed; the message says what was undone or left.
    #[error("{0}")]
    Gateway(String),
}

/// A key with its secret, shown once.
#[derive(Debug)]
pub struct Issued {
    pub key: ApiKey,
    pub plaintext: String,
    /// Where the gateway half went (none without a gateway).
    pub registered: Option<Registered>,
    /// Pruning after the change failed; the key works regardless.
    pub prune_warning: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Registered {
    pub gateway_id: String,
    pub name: String,
    pub plan: UsagePlan,
}

#[derive(Debug)]
pub struct Revoked {
    pub key: ApiKey,
    /// False when the key was already revoked or expired (revoking again still prunes).
    pub was_active: bool,
    pub gateway: Pruned,
    /// The gateway keys deleted on the way, this key's and others'.
    pub pruned: Vec<PrunedKey>,
}

/// What became of a revoked key's gateway keys.
#[derive(Debug, PartialEq, Eq)]
pub enum Pruned {
    NoGateway,
    Deleted(usize),
    /// Gateway keys that could not be deleted (their ids).
    Left(Vec<String>),
    /// The gateway could not be read.
    Unchecked(String),
}

/// A gateway key deleted because the service refuses its secret, and why.
#[derive(Debug)]
pub struct PrunedKey {
    pub gateway: GatewayKey,
    pub name: String,
    pub why: &'static str,
}

/// The store's keys beside the gateway's, after pruning.
#[derive(Debug, Default)]
pub struct View {
    pub stored: BTreeMap<String, ApiKey>,
    pub plans: Vec<UsagePlan>,
    pub gateway: Vec<GatewayKey>,
    pub pruned: Vec<PrunedKey>,
    /// Gateway keys that should have been pruned but could not be, with the error.
    pub failed: Vec<(PrunedKey, String)>,
}

impl View {
    pub fn gateway_keys_of<'v>(&'v self, key_id: &'v str) -> impl Iterator<Item = &'v GatewayKey> {
        self.gateway.iter().filter(move |g| g.key_id == key_id)
    }

    /// `registered`: the current secret is on the gateway, enabled, on a plan. `missing`: an
    /// active key the gateway would refuse. `stale`: the gateway holds a secret the service
    /// refuses (a prune failed). `-`: an inactive key with nothing left on the gateway.
    pub fn registration(&self, key: &ApiKey, now: OffsetDateTime) -> &'static str {
        let mine: Vec<_> = self.gateway_keys_of(&key.key_id).collect();
        if mine.is_empty() && !key.is_active(now) {
            "-"
        } else if mine.iter().any(|g| key.verify(g.secret(), now).is_err()) {
            "stale"
        } else if self.current(key).is_some() {
            "registered"
        } else {
            "missing"
        }
    }

    /// The gateway key holding `key`'s current secret, enabled and on a plan.
    pub fn current(&self, key: &ApiKey) -> Option<&GatewayKey> {
        self.gateway.iter().find(|g| {
            g.key_id == key.key_id
                && g.enabled
                && !g.plans.is_empty()
                && keys::sha256_hex(g.secret()) == key.secret_sha256
        })
    }
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

/// The key-management use cases over a store and, when the deployment has one, a gateway.
/// The usage plan `name` among `plans`, or the only one there is.
fn choose_plan(plans: &[UsagePlan], name: Option<&str>) -> Result<UsagePlan, KeyError> {
    let known = || {
        plans
            .iter()
            .map(|p| p.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    match name {
        Some(name) => plans
            .iter()
            .find(|p| p.name == name)
            .cloned()
            .ok_or_else(|| KeyError::UnknownPlan {
                name: name.to_owned(),
                known: known(),
            }),
        None => match plans {
            [only] => Ok(only.clone()),
            [] => Err(KeyError::Gateway(
                "the gateway has no usage plan for this API".into(),
            )),
            _ => Err(KeyError::AmbiguousPlan(known())),
        },
    }
}

/// `key` if it is still active: only those can be rotated.
fn active(key: ApiKey, now: OffsetDateTime) -> Result<ApiKey, KeyError> {
    if !key.is_active(now) {
        return Err(KeyError::NotActive {
            status: key.status(now).as_str(),
            key_id: key.key_id,
        });
    }
    Ok(key)
}

pub struct Keys<'a> {
    store: &'a dyn Store,
    gateway: Option<&'a dyn KeyGateway>,
}

impl<'a> Keys<'a> {
    pub fn new(store: &'a dyn Store, gateway: Option<&'a dyn KeyGateway>) -> Self {
        Self { store, gateway }
    }

    /// The service's own: its store and gateway.
    pub fn of(app: &'a App) -> Self {
        Self::new(app.store.as_ref(), app.gateway.as_deref())
    }

    /// A stored key, by id.
    pub async fn existing(&self, key_id: &str) -> Result<ApiKey, KeyError> {
        if !keys::valid_key_id(key_id) {
            return Err(KeyError::MalformedId(key_id.to_owned()));
        }
        self.store
            .get_key(key_id)
            .await?
            .ok_or_else(|| KeyError::NotFound(key_id.to_owned()))
    }

    /// A stored key that is still active: only those can be rotated.
    pub async fn active(&self, key_id: &str, now: OffsetDateTime) -> Result<ApiKey, KeyError> {
        active(self.existing(key_id).await?, now)
    }

    /// The gateway's usage plan `name`, or its only one.
    async fn plan(gateway: &dyn KeyGateway, name: Option<&str>) -> Result<UsagePlan, KeyError> {
        let plans = gateway
            .plans()
            .await
            .map_err(|e| KeyError::Gateway(e.to_string()))?;
        choose_plan(&plans, name)
    }

    /// Issues and stores a key, and registers it on the gateway's usage plan `plan` (or the
    /// only one). A wrong plan changes nothing; a failed registration revokes the stored key.
    pub async fn create(
        &self,
        request: NewKey,
        plan: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<Issued, KeyError> {
        let plan = match self.gateway {
            Some(gateway) => Some(Self::plan(gateway, plan).await?),
            None => None,
        };
        let (key, plaintext) = request.issue(now)?;
        self.store.create_key(&key).await?;
        let (Some(gateway), Some(plan)) = (self.gateway, plan) else {
            return Ok(Issued {
                key,
                plaintext,
                registered: None,
                prune_warning: None,
            });
        };
        let gateway_id = match gateway.register(&plan, &key, &plaintext).await {
            Ok(id) => id,
            Err(e) => return Err(self.undo_create(&key, &e.to_string(), now).await),
        };
        Ok(Issued {
            registered: Some(Registered {
                gateway_id,
                name: gateway.key_name(&key.key_id),
                plan,
            }),
            prune_warning: self.prune_after_change(now).await,
            key,
            plaintext,
        })
    }

    /// A key the gateway does not know must not work at the service either: revoke it.
    async fn undo_create(&self, key: &ApiKey, why: &str, now: OffsetDateTime) -> KeyError {
        let revoked = key.revoked(now);
        KeyError::Gateway(match self.store.replace_key(&revoked, key.version).await {
            Ok(()) => format!(
                "API Gateway registration failed ({why}); key {} was revoked in the store, so \
                 nothing usable is left: fix the cause and create a new key",
                key.key_id
            ),
            Err(e) => format!(
                "API Gateway registration failed ({why}), and revoking key {} in the store \
                 failed too ({e}): revoke it",
                key.key_id
            ),
        })
    }

    /// A new secret for `key`, which must be active; the old one works for `grace`. The new
    /// secret goes on the usage plan the current one is on, unless `plan` says otherwise.
    pub async fn rotate(
        &self,
        key: ApiKey,
        grace: time::Duration,
        plan: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<Issued, KeyError> {
        let key = active(key, now)?;
        let plan = match self.gateway {
            None => None,
            Some(_) => {
                let view = self.view(now).await?;
                let on = view
                    .current(&key)
                    .and_then(|g| g.plans.first())
                    .and_then(|id| {
                        view.plans
                            .iter()
                            .find(|p| &p.id == id)
                            .map(|p| p.name.clone())
                    });
                Some(choose_plan(&view.plans, plan.or(on.as_deref()))?)
            }
        };
        let (next, plaintext) = key.rotated(now, grace);
        self.store
            .replace_key(&next, key.version)
            .await
            .map_err(|e| match e {
                StoreError::Conflict(_) => KeyError::Changed(key.key_id.clone()),
                other => other.into(),
            })?;
        let (Some(gateway), Some(plan)) = (self.gateway, plan) else {
            return Ok(Issued {
                key: next,
                plaintext,
                registered: None,
                prune_warning: None,
            });
        };
        let gateway_id = match gateway.register(&plan, &next, &plaintext).await {
            Ok(id) => id,
            Err(e) => return Err(self.undo_rotate(&key, &next, &e.to_string()).await),
        };
        Ok(Issued {
            registered: Some(Registered {
                gateway_id,
                name: gateway.key_name(&next.key_id),
                plan,
            }),
            // Prunes the old secret at once when there is no grace.
            prune_warning: self.prune_after_change(now).await,
            key: next,
            plaintext,
        })
    }

    /// Puts the record back as it was before the rotation (the new secret was never shown).
    async fn undo_rotate(&self, before: &ApiKey, rotated: &ApiKey, why: &str) -> KeyError {
        let mut restored = before.clone();
        restored.version = rotated.version + 1;
        KeyError::Gateway(
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
            },
        )
    }

    /// Revokes `key` (its previous secret too) and deletes its gateway keys. Revoking a key
    /// that is no longer active changes nothing in the store and still prunes.
    pub async fn revoke(&self, key: ApiKey, now: OffsetDateTime) -> Result<Revoked, KeyError> {
        let was_active = key.is_active(now);
        if was_active {
            self.store
                .replace_key(&key.revoked(now), key.version)
                .await
                .map_err(|e| match e {
                    StoreError::Conflict(_) => KeyError::Changed(key.key_id.clone()),
                    other => other.into(),
                })?;
        }
        let (gateway, pruned) = match self.gateway {
            None => (Pruned::NoGateway, Vec::new()),
            Some(_) => match self.view(now).await {
                Err(e) => (Pruned::Unchecked(e.to_string()), Vec::new()),
                Ok(view) => {
                    let left: Vec<String> = view
                        .gateway_keys_of(&key.key_id)
                        .map(|g| g.id.clone())
                        .collect();
                    let outcome = if left.is_empty() {
                        Pruned::Deleted(
                            view.pruned
                                .iter()
                                .filter(|p| p.gateway.key_id == key.key_id)
                                .count(),
                        )
                    } else {
                        Pruned::Left(left)
                    };
                    (outcome, view.pruned)
                }
            },
        };
        if let Pruned::Left(_) | Pruned::Unchecked(_) = &gateway {
            tracing::warn!(key_id = %key.key_id, gateway = ?gateway, "revoked key's gateway keys remain");
        }
        Ok(Revoked {
            key,
            was_active,
            gateway,
            pruned,
        })
    }

    /// After a key was created or rotated: the key must still be shown, whatever happens here.
    async fn prune_after_change(&self, now: OffsetDateTime) -> Option<String> {
        let warning = match self.view(now).await {
            Err(e) => format!("pruning API Gateway keys failed: {e}"),
            Ok(view) if !view.failed.is_empty() => view
                .failed
                .iter()
                .map(|(p, e)| format!("API Gateway key {} ({}) stays: {e}", p.gateway.id, p.why))
                .collect::<Vec<_>>()
                .join("; "),
            Ok(_) => return None,
        };
        tracing::warn!(%warning, "after a key change");
        Some(warning)
    }

    /// The store's keys beside the gateway's, after deleting every gateway key whose secret the
    /// service refuses. Reads the gateway before the store: a gateway key is created only after
    /// its store record is written, so the store read that follows always knows a key created
    /// meanwhile (it is never mistaken for an orphan).
    pub async fn view(&self, now: OffsetDateTime) -> Result<View, KeyError> {
        let gateway_error = |e: crate::gateway::GatewayError| KeyError::Gateway(e.to_string());
        let (plans, found) = match self.gateway {
            Some(gateway) => {
                let plans = gateway.plans().await.map_err(gateway_error)?;
                let found = gateway.keys(&plans).await.map_err(gateway_error)?;
                (plans, found)
            }
            None => (Vec::new(), Vec::new()),
        };
        let stored = all_keys(self.store)
            .await?
            .into_iter()
            .map(|k| (k.key_id.clone(), k))
            .collect();
        let mut view = View {
            stored,
            plans,
            ..View::default()
        };
        for g in found {
            let why = match view.stored.get(&g.key_id) {
                Some(key) => refusal(key, g.secret(), now),
                // Unknown here and on none of this environment's plans: not provably ours.
                None if g.plans.is_empty() => None,
                None => Some("no such key in the store"),
            };
            let (Some(why), Some(gateway)) = (why, self.gateway) else {
                view.gateway.push(g);
                continue;
            };
            let pruned = PrunedKey {
                name: gateway.key_name(&g.key_id),
                why,
                gateway: g,
            };
            match gateway.delete(&pruned.gateway.id).await {
                Ok(()) => view.pruned.push(pruned),
                Err(e) => {
                    view.gateway.push(pruned.gateway.clone());
                    view.failed.push((pruned, e.to_string()));
                }
            }
        }
        Ok(view)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::keys::{KeyLimits, Scope};
    use crate::gateway::memory::MemoryGateway;
    use crate::store::memory::MemoryStore;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-11-30 12:00 UTC);

    fn request(tenant: &str) -> NewKey {
        NewKey {
            tenant: tenant.into(),
            scopes: vec![Scope::ImagesWrite],
            limits: KeyLimits::default(),
            expires_at: None,
            webhook: None,
        }
    }

    #[tokio::test]
    async fn a_created_key_is_stored_and_on_the_only_usage_plan() {
        let (store, gateway) = (
            MemoryStore::new(),
            MemoryGateway::with_plans(&[("standard", "up1")]),
        );
        let keys = Keys::new(&store, Some(&gateway));
        let issued = keys.create(request("acme"), None, NOW).await.unwrap();
        let registered = issued.registered.unwrap();
        assert_eq!(registered.plan.id, "up1");
        assert_eq!(
            gateway.values(&issued.key.key_id),
            std::slice::from_ref(&issued.plaintext)
        );
        assert_eq!(
            store.get_key(&issued.key.key_id).await.unwrap(),
            Some(issued.key.clone())
        );
        let view = keys.view(NOW).await.unwrap();
        assert_eq!(view.registration(&issued.key, NOW), "registered");
    }

    #[tokio::test]
    async fn a_wrong_plan_changes_nothing_and_a_failed_registration_leaves_nothing_usable() {
        let (store, gateway) = (
            MemoryStore::new(),
            MemoryGateway::with_plans(&[("standard", "up1"), ("premium", "up2")]),
        );
        let keys = Keys::new(&store, Some(&gateway));
        assert!(matches!(
            keys.create(request("acme"), Some("gold"), NOW).await,
            Err(KeyError::UnknownPlan { .. })
        ));
        assert!(matches!(
            keys.create(request("acme"), None, NOW).await,
            Err(KeyError::AmbiguousPlan(_))
        ));
        assert!(all_keys(&store).await.unwrap().is_empty());

        gateway.fail("register");
        let err = keys
            .create(request("acme"), Some("premium"), NOW)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("revoked in the store"), "{err}");
        let stored = all_keys(&store).await.unwrap();
        assert_eq!(stored.len(), 1);
        assert_eq!(stored[0].status(NOW), KeyStatus::Revoked);
    }

    #[tokio::test]
    async fn rotation_registers_the_new_secret_and_prunes_the_old_one_when_its_grace_ends() {
        let (store, gateway) = (
            MemoryStore::new(),
            MemoryGateway::with_plans(&[("standard", "up1")]),
        );
        let keys = Keys::new(&store, Some(&gateway));
        let first = keys.create(request("acme"), None, NOW).await.unwrap();
        let id = first.key.key_id.clone();
        let rotated = keys
            .rotate(first.key.clone(), time::Duration::HOUR, None, NOW)
            .await
            .unwrap();
        assert_eq!(
            gateway.values(&id),
            [first.plaintext.clone(), rotated.plaintext.clone()]
        );

        let later = NOW + time::Duration::HOUR;
        let view = keys.view(later).await.unwrap();
        assert_eq!(view.pruned.len(), 1);
        assert!(view.pruned[0].why.contains("rotated out"));
        assert_eq!(
            gateway.values(&id),
            std::slice::from_ref(&rotated.plaintext)
        );

        // A failed registration undoes the rotation: the current secret keeps working.
        gateway.fail("register");
        let err = keys
            .rotate(rotated.key.clone(), time::Duration::ZERO, None, later)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("rotation was undone"), "{err}");
        let stored = store.get_key(&id).await.unwrap().unwrap();
        let (_, secret) = keys::parse_presented(&rotated.plaintext).unwrap();
        assert!(stored.verify(secret, later).is_ok());
    }

    #[tokio::test]
    async fn only_an_active_key_is_rotated_and_revoking_deletes_its_gateway_keys() {
        let (store, gateway) = (
            MemoryStore::new(),
            MemoryGateway::with_plans(&[("standard", "up1")]),
        );
        let keys = Keys::new(&store, Some(&gateway));
        let issued = keys.create(request("acme"), None, NOW).await.unwrap();
        let id = issued.key.key_id.clone();
        let rotated = keys
            .rotate(issued.key, time::Duration::HOUR, None, NOW)
            .await
            .unwrap();

        let revoked = keys.revoke(rotated.key.clone(), NOW).await.unwrap();
        assert!(revoked.was_active);
        assert_eq!(revoked.gateway, Pruned::Deleted(2));
        assert!(gateway.values(&id).is_empty());
        let stored = keys.existing(&id).await.unwrap();
        assert_eq!(stored.status(NOW), KeyStatus::Revoked);
        assert!(matches!(
            keys.rotate(stored.clone(), time::Duration::HOUR, None, NOW)
                .await,
            Err(KeyError::NotActive {
                status: "revoked",
                ..
            })
        ));
        assert!(matches!(
            keys.active(&id, NOW).await,
            Err(KeyError::NotActive { .. })
        ));
        let again = keys.revoke(stored, NOW).await.unwrap();
        assert!(!again.was_active);
        assert!(matches!(
            keys.existing("nope").await,
            Err(KeyError::MalformedId(_))
        ));
        assert!(matches!(
            keys.existing("0123456789ab").await,
            Err(KeyError::NotFound(_))
        ));
    }

    #[tokio::test]
    async fn without_a_gateway_keys_live_in_the_store_alone() {
        let store = MemoryStore::new();
        let keys = Keys::new(&store, None);
        let issued = keys
            .create(request("acme"), Some("ignored"), NOW)
            .await
            .unwrap();
        assert!(issued.registered.is_none());
        let revoked = keys.revoke(issued.key, NOW).await.unwrap();
        assert_eq!(revoked.gateway, Pruned::NoGateway);
    }
}
