//! A probe agent whose every action is observable from the test, shared by the kernel tests.
#![allow(dead_code)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use agent_os_kernel::prelude::*;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use tokio::sync::Semaphore;

use crate::common::{StorageGuard, backend_from_env, test_storage};

/// What the probe does with a message.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) enum Cmd {
    /// Record the id.
    Record(u32),
    /// Sleep, then record the id.
    SleepRecord { id: u32, ms: u64 },
    /// Wait for one permit of the shared gate, then record the id.
    Gated(u32),
    /// Panic with this text.
    Panic(String),
    /// Return an error.
    Fail(String),
    /// Call `ctx.stop()`.
    StopSelf,
    /// Reply with the log.
    Log,
    /// Reply with the sender pid.
    WhoSent,
}

/// The probe's reply.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub(crate) struct Reply {
    pub log: Vec<u32>,
    pub sender: Option<Pid>,
}

/// Observations shared by every incarnation of one probe (they survive restarts).
pub(crate) struct Probe {
    pub log: Mutex<Vec<u32>>,
    pub in_handler: AtomicBool,
    pub overlaps: AtomicUsize,
    pub starts: AtomicUsize,
    pub stops: AtomicUsize,
    pub gate: Semaphore,
    pub topics: Mutex<Vec<String>>,
}

impl Probe {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Probe {
            log: Mutex::new(Vec::new()),
            in_handler: AtomicBool::new(false),
            overlaps: AtomicUsize::new(0),
            starts: AtomicUsize::new(0),
            stops: AtomicUsize::new(0),
            gate: Semaphore::new(0),
            topics: Mutex::new(Vec::new()),
        })
    }
    pub(crate) fn log(&self) -> Vec<u32> {
        self.log.lock().clone()
    }
    pub(crate) fn starts(&self) -> usize {
        self.starts.load(Ordering::SeqCst)
    }
    pub(crate) fn stops(&self) -> usize {
        self.stops.load(Ordering::SeqCst)
    }
    pub(crate) fn open(&self, n: usize) {
        self.gate.add_permits(n);
    }
}

pub(crate) struct ProbeAgent {
    probe: Arc<Probe>,
}

impl ProbeAgent {
    pub(crate) fn factory(probe: &Arc<Probe>) -> impl Fn() -> ProbeAgent + Send + Sync + use<> {
        let probe = probe.clone();
        move || ProbeAgent {
            probe: probe.clone(),
        }
    }
}

impl Agent for ProbeAgent {
    type Msg = Cmd;
    type Reply = Reply;

    async fn on_start(&mut self, _ctx: &mut AgentContext) -> Result<(), AgentError> {
        self.probe.starts.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }

    async fn on_stop(&mut self, _ctx: &mut AgentContext) {
        self.probe.stops.fetch_add(1, Ordering::SeqCst);
    }

    async fn handle(&mut self, msg: Cmd, ctx: &mut AgentContext) -> Result<Reply, AgentError> {
        if self.probe.in_handler.swap(true, Ordering::SeqCst) {
            self.probe.overlaps.fetch_add(1, Ordering::SeqCst);
        }
        if let Some(t) = ctx.topic() {
            self.probe.topics.lock().push(t.to_string());
        }
        let result = match msg {
            Cmd::Record(id) => {
                self.probe.log.lock().push(id);
                Ok(Reply::default())
            }
            Cmd::SleepRecord { id, ms } => {
                tokio::time::sleep(Duration::from_millis(ms)).await;
                self.probe.log.lock().push(id);
                Ok(Reply::default())
            }
            Cmd::Gated(id) => {
                let permit = self.probe.gate.acquire().await;
                if let Ok(p) = permit {
                    p.forget();
                }
                self.probe.log.lock().push(id);
                Ok(Reply::default())
            }
            Cmd::Panic(text) => {
                self.probe.in_handler.store(false, Ordering::SeqCst);
                panic!("{text}");
            }
            Cmd::Fail(text) => Err(AgentError::failed(text)),
            Cmd::StopSelf => {
                ctx.stop();
                Ok(Reply::default())
            }
            Cmd::Log => Ok(Reply {
                log: self.probe.log(),
                sender: None,
            }),
            Cmd::WhoSent => Ok(Reply {
                log: vec![],
                sender: ctx.sender(),
            }),
        };
        self.probe.in_handler.store(false, Ordering::SeqCst);
        result
    }
}

/// A kernel for tests: two arbiters, default config (no file, no environment), a fresh
/// database on the backend `AOK_TEST_BACKEND` names. Keep the guard alive as long as the
/// kernel: dropping it deletes the database.
pub(crate) async fn kernel() -> (Kernel, StorageGuard) {
    let mut config = KernelConfig::default();
    config.kernel.arbiters = 2;
    kernel_with(config).await
}

/// [`kernel`] with a given configuration.
pub(crate) async fn kernel_with(config: KernelConfig) -> (Kernel, StorageGuard) {
    let (storage, guard) = test_storage(backend_from_env()).await;
    let k = Kernel::builder()
        .config(config)
        .storage(storage)
        .build()
        .await
        .expect("kernel builds");
    (k, guard)
}

pub(crate) use agent_os_kernel::KernelConfig;

/// Polls `f` until it is true or `timeout` passes; returns whether it became true.
pub(crate) async fn eventually(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if f() {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

pub(crate) const SEC: Duration = Duration::from_secs(1);
pub(crate) const LONG: Duration = Duration::from_secs(10);

/// Waits until the kernel's scheduler has granted at least `n` slices (panics after `LONG`).
pub(crate) async fn wait_for_grants(k: &Kernel, n: u64) {
    let deadline = std::time::Instant::now() + LONG;
    while k.scheduler_stats().await.expect("scheduler stats").grants < n {
        assert!(
            std::time::Instant::now() < deadline,
            "fewer than {n} slices were granted"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}
