//! A model stand-in that records every request, answers as told and can be held at a gate.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use imagegen::gemini::offline::OfflineGenerator;
use imagegen::gemini::{CallBudget, GenerateError, ImageAttempt, ImageGenerator, ImageRequest};
use tokio::sync::{Notify, Semaphore};

/// What a [`TestGenerator`] does when called.
#[derive(Clone, Copy)]
pub enum Mode {
    /// The offline generator's real PNGs.
    Offline,
    /// Always fails with this error.
    Fail(fn() -> GenerateError),
    /// Offline images for the first `n` images of a job; the others are refused (`no_image`).
    AtMost(u8),
    /// Fails the first `n` calls with this error, then behaves like `Offline`.
    FailTimes(u32, fn() -> GenerateError),
}

/// A generator that records every request and can be held at a gate.
pub struct TestGenerator {
    mode: Mode,
    pub calls: AtomicU32,
    pub requests: Mutex<Vec<ImageRequest>>,
    gate: Option<Gate>,
}

/// Holds calls until released: `entered` is notified when a call arrives.
pub struct Gate {
    pub entered: Notify,
    pub release: Semaphore,
}

impl TestGenerator {
    pub fn new(mode: Mode) -> Arc<Self> {
        Arc::new(Self {
            mode,
            calls: AtomicU32::new(0),
            requests: Mutex::new(Vec::new()),
            gate: None,
        })
    }

    pub fn gated(mode: Mode) -> Arc<Self> {
        Arc::new(Self {
            mode,
            calls: AtomicU32::new(0),
            requests: Mutex::new(Vec::new()),
            gate: Some(Gate {
                entered: Notify::new(),
                release: Semaphore::new(0),
            }),
        })
    }

    pub fn gate(&self) -> &Gate {
        self.gate.as_ref().unwrap()
    }

    pub fn calls(&self) -> u32 {
        self.calls.load(Ordering::SeqCst)
    }
}

/// One call per image asked for (no retries inside): what the worker sees of a model whose
/// calls each end one way.
#[async_trait]
impl ImageGenerator for TestGenerator {
    async fn generate_image(
        &self,
        req: &ImageRequest,
        index: u8,
        budget: CallBudget,
    ) -> ImageAttempt {
        let call = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        self.requests.lock().unwrap().push(req.clone());
        if let Some(gate) = &self.gate {
            gate.entered.notify_one();
            gate.release.acquire().await.unwrap().forget();
        }
        let fail = |e: GenerateError| ImageAttempt::failed(e, 1);
        match self.mode {
            Mode::Fail(make) => fail(make()),
            Mode::FailTimes(n, make) if call <= n => fail(make()),
            Mode::AtMost(n) if index >= n => fail(GenerateError::NoImage {
                finish_reason: "STOP".into(),
            }),
            Mode::Offline | Mode::AtMost(_) | Mode::FailTimes(..) => {
                OfflineGenerator.generate_image(req, index, budget).await
            }
        }
    }

    fn name(&self) -> &'static str {
        "test"
    }
}
