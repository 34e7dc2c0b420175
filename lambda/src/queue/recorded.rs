//! [`RecordedControl`]: a [`MessageControl`] that only remembers what it was asked, for the
//! worker's tests, the Lambda-event tests and the fuzz harness (no queue to reach).

use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;

use super::{MessageControl, QueueError};

#[derive(Debug, Default)]
pub struct RecordedControl {
    delays: Mutex<Vec<(String, Duration)>>,
    dead_letters: Mutex<Vec<(String, String)>>,
}

impl RecordedControl {
    /// `(receipt handle, delay)` of every shortened retry, in order.
    pub fn delays(&self) -> Vec<(String, Duration)> {
        self.delays.lock().map(|d| d.clone()).unwrap_or_default()
    }

    /// `(body, reason)` of every dead-lettered message, in order.
    pub fn dead_letters(&self) -> Vec<(String, String)> {
        self.dead_letters
            .lock()
            .map(|d| d.clone())
            .unwrap_or_default()
    }
}

#[async_trait]
impl MessageControl for RecordedControl {
    async fn retry_after(&self, receipt_handle: &str, delay: Duration) -> Result<(), QueueError> {
        if let Ok(mut delays) = self.delays.lock() {
            delays.push((receipt_handle.to_owned(), delay));
        }
        Ok(())
    }

    async fn dead_letter(&self, body: &str, reason: &str) -> Result<(), QueueError> {
        if let Ok(mut letters) = self.dead_letters.lock() {
            letters.push((body.to_owned(), reason.to_owned()));
        }
        Ok(())
    }
}
