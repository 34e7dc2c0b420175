//! A gateway in memory, for tests of the key use cases: its keys can be read back, and any
//! call can be made to fail.

use crate::secrets::ExposeSecret;
use std::sync::Mutex;

use async_trait::async_trait;

use super::{GatewayError, GatewayKey, KeyGateway, UsagePlan};
use crate::domain::keys::{ApiKey, parse_presented};
use crate::secrets::SecretString;

#[derive(Debug, Default)]
pub struct MemoryGateway {
    plans: Vec<UsagePlan>,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    keys: Vec<GatewayKey>,
    next_id: u32,
    failing: Vec<&'static str>,
}

impl MemoryGateway {
    pub fn with_plans(plans: &[(&str, &str)]) -> Self {
        Self {
            plans: plans
                .iter()
                .map(|(name, id)| UsagePlan {
                    name: (*name).to_owned(),
                    id: (*id).to_owned(),
                })
                .collect(),
            state: Mutex::default(),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// From now on `operation` (`keys`, `register`, `delete`) fails.
    pub fn fail(&self, operation: &'static str) {
        self.state().failing.push(operation);
    }

    /// The values of the gateway keys of `key_id`, in creation order.
    pub fn values(&self, key_id: &str) -> Vec<String> {
        self.state()
            .keys
            .iter()
            .filter(|k| k.key_id == key_id)
            .map(|k| k.value.expose_secret().to_owned())
            .collect()
    }

    fn check(&self, operation: &'static str) -> Result<(), GatewayError> {
        if self.state().failing.contains(&operation) {
            return Err(GatewayError(format!("{operation} failed (test)")));
        }
        Ok(())
    }
}

#[async_trait]
impl KeyGateway for MemoryGateway {
    async fn plans(&self) -> Result<Vec<UsagePlan>, GatewayError> {
        Ok(self.plans.clone())
    }

    async fn keys(&self, _plans: &[UsagePlan]) -> Result<Vec<GatewayKey>, GatewayError> {
        self.check("keys")?;
        Ok(self.state().keys.clone())
    }

    async fn register(
        &self,
        plan: &UsagePlan,
        key: &ApiKey,
        plaintext: &str,
    ) -> Result<String, GatewayError> {
        self.check("register")?;
        if parse_presented(plaintext).map(|(id, _)| id) != Some(key.key_id.as_str()) {
            return Err(GatewayError("the value is not this key".into()));
        }
        let mut state = self.state();
        state.next_id += 1;
        let id = format!("gk{}", state.next_id);
        state.keys.push(GatewayKey {
            id: id.clone(),
            key_id: key.key_id.clone(),
            value: SecretString::from(plaintext),
            enabled: true,
            plans: vec![plan.id.clone()],
        });
        Ok(id)
    }

    async fn delete(&self, id: &str) -> Result<(), GatewayError> {
        self.check("delete")?;
        self.state().keys.retain(|k| k.id != id);
        Ok(())
    }

    fn key_name(&self, key_id: &str) -> String {
        format!("test-{key_id}")
    }
}
