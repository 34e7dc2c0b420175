//! Counts the AWS calls the SDK clients make, per operation, with an SDK interceptor.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

/// HTTP requests sent to AWS, by `Service.Operation` (every attempt counts: a retried call
/// is two requests). Clones share the counts.
#[derive(Debug, Clone, Default)]
pub struct CallCounter {
    calls: Arc<Mutex<BTreeMap<String, u64>>>,
}

impl CallCounter {
    /// The counts so far, and starts again from zero.
    pub fn take(&self) -> Calls {
        let mut calls = self.calls.lock().unwrap_or_else(PoisonError::into_inner);
        Calls(std::mem::take(&mut *calls))
    }
}

impl Intercept for CallCounter {
    fn name(&self) -> &'static str {
        "imagegen-tests::CallCounter"
    }

    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let operation = cfg.load::<Metadata>().map_or_else(
            || "unknown".to_owned(),
            |m| format!("{}.{}", m.service(), m.name()),
        );
        let mut calls = self.calls.lock().unwrap_or_else(PoisonError::into_inner);
        *calls.entry(operation).or_default() += 1;
        Ok(())
    }
}

/// A snapshot of [`CallCounter`]: calls by `Service.Operation`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Calls(pub BTreeMap<String, u64>);

impl Calls {
    pub fn total(&self) -> u64 {
        self.0.values().sum()
    }

    /// Calls of one operation, e.g. `get("DynamoDB.UpdateItem")`.
    pub fn get(&self, operation: &str) -> u64 {
        self.0.get(operation).copied().unwrap_or(0)
    }

    /// Calls to one service, e.g. `service("SQS")`.
    pub fn service(&self, service: &str) -> u64 {
        self.0
            .iter()
            .filter(|(op, _)| op.split('.').next() == Some(service))
            .map(|(_, n)| n)
            .sum()
    }
}

impl fmt::Display for Calls {
    /// `7 calls: DynamoDB.GetItem 2, DynamoDB.UpdateItem 4, SQS.SendMessage 1`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} calls:", self.total())?;
        let mut first = true;
        for (op, n) in &self.0 {
            write!(f, "{} {op} {n}", if first { "" } else { "," })?;
            first = false;
        }
        Ok(())
    }
}
