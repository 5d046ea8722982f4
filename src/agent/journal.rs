//! The journal seen from a step: completed LLM and tool results stored by (pid, step, call
//! index), answered back when a durable message is redelivered and its step runs again.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::digest::sha256_hex;
use crate::pid::Pid;
use crate::storage::Storage;
use crate::storage::durable::journal::{self, JournalEntry};

/// The step being handled, as its syscalls see it.
#[derive(Debug, Default)]
pub(crate) struct StepCtx {
    pub(crate) step: u64,
    /// The durable delivery being handled, if any.
    pub(crate) delivery: Option<String>,
    /// Names this step's calls in idempotency keys when there is no delivery id (a random
    /// number per incarnation).
    pub(crate) nonce: u64,
    /// Whether calls are journaled (a durable mailbox: the step can run again).
    pub(crate) journaled: bool,
    /// Entries of an earlier run of this step (same delivery), by call index.
    pub(crate) replay: HashMap<u32, JournalEntry>,
    pub(crate) next_call: AtomicU32,
}

/// One call's place in its step.
#[derive(Debug, Clone)]
pub(crate) struct CallSlot {
    pub(crate) index: u32,
    pub(crate) key: String,
}

impl StepCtx {
    /// The next call's index and idempotency key.
    pub(crate) fn next(&self, pid: Pid) -> CallSlot {
        let index = self.next_call.fetch_add(1, Ordering::Relaxed);
        let key = match &self.delivery {
            Some(d) => format!("{pid}/{}/{index}/{d}", self.step),
            None => format!("{pid}/{}/{index}/{:016x}", self.step, self.nonce),
        };
        CallSlot { index, key }
    }

    /// The journaled result of call `slot`, if this step ran before with the same delivery
    /// and the call asked the same thing (a different request is a different call: it runs).
    pub(crate) fn replayed<T: DeserializeOwned>(&self, slot: &CallSlot, digest: &str) -> Option<T> {
        let e = self.replay.get(&slot.index)?;
        if e.request_digest != digest {
            tracing::warn!(
                step = self.step,
                call = slot.index,
                "replayed step diverged: the call differs from the journaled one, it runs again"
            );
            return None;
        }
        serde_json::from_slice(&e.payload).ok()
    }

    /// Journals a completed call (when the step can run again). A failed write is logged: the
    /// result is still returned, a replay would run the call again.
    pub(crate) async fn record<T: Serialize>(
        &self,
        storage: &Storage,
        pid: Pid,
        slot: &CallSlot,
        kind: &str,
        digest: String,
        result: &T,
    ) {
        if !self.journaled {
            return;
        }
        let Ok(payload) = serde_json::to_vec(result) else {
            tracing::warn!(%pid, kind, "a call result could not be encoded for the journal");
            return;
        };
        let entry = JournalEntry {
            pid: pid.to_string(),
            step: self.step,
            call_index: slot.index,
            delivery: self.delivery.clone().unwrap_or_default(),
            kind: kind.to_string(),
            request_digest: digest,
            payload,
            created_at: chrono::Utc::now(),
        };
        if let Err(e) = journal::put(storage, &entry).await {
            tracing::warn!(%pid, kind, error = %e, "a call result could not be journaled");
        }
    }
}

/// Digest of a request, to recognise the same call on replay.
pub(crate) fn digest_of<T: Serialize>(kind: &str, request: &T) -> String {
    let mut bytes = kind.as_bytes().to_vec();
    bytes.push(0);
    bytes.extend(serde_json::to_vec(request).unwrap_or_default());
    sha256_hex(&bytes)
}

/// Loads the journal of a step for a redelivered message.
pub(crate) async fn load_replay(
    storage: &Storage,
    pid: Pid,
    step: u64,
    delivery: &str,
) -> HashMap<u32, JournalEntry> {
    match journal::step(storage, &pid.to_string(), step).await {
        Ok(entries) => entries
            .into_iter()
            .filter(|e| e.delivery == delivery)
            .map(|e| (e.call_index, e))
            .collect(),
        Err(e) => {
            tracing::warn!(%pid, step, error = %e, "the journal could not be read; the step's calls run again");
            HashMap::new()
        }
    }
}

impl crate::AgentContext {
    /// Runs a side-effecting operation (a tool, a payment, a write to another system) at
    /// most once per call slot of this step, as far as the kernel can see: its successful
    /// result is journaled under (pid, step, call index), and when a durable message is
    /// redelivered after a crash and its step runs again, the same call is answered from the
    /// journal instead of running `op` again.
    ///
    /// `op` gets the call's **idempotency key** (`pid/step/call/delivery`), stable across
    /// such replays: pass it to the other system, so that an effect made just before a crash
    /// (before its result could be journaled) is not made twice there either.
    ///
    /// Only agents with a durable mailbox replay steps; for the others the result is not
    /// journaled and `op` simply runs. Errors are not journaled (a replay runs `op` again).
    ///
    /// ```no_run
    /// # use agent_os_kernel::prelude::*;
    /// # async fn demo(ctx: &AgentContext) -> Result<(), AgentError> {
    /// let receipt: String = ctx
    ///     .journaled("charge", |key| async move {
    ///         // e.g. an HTTP call with an `Idempotency-Key: {key}` header
    ///         Ok(format!("charged once under {key}"))
    ///     })
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub async fn journaled<T, F, Fut>(&self, name: &str, op: F) -> Result<T, crate::AgentError>
    where
        T: Serialize + DeserializeOwned,
        F: FnOnce(String) -> Fut,
        Fut: Future<Output = Result<T, crate::AgentError>>,
    {
        let step = self.step_ctx();
        let slot = step.next(self.pid());
        let kind = format!("op:{name}");
        let digest = digest_of(&kind, &name);
        if step.journaled
            && let Some(done) = step.replayed::<T>(&slot, &digest)
        {
            return Ok(done);
        }
        let result = op(slot.key.clone()).await?;
        step.record(
            self.kernel().storage(),
            self.pid(),
            &slot,
            &kind,
            digest,
            &result,
        )
        .await;
        Ok(result)
    }
}
