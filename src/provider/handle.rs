//! `ProviderHandle`: how the router (or any caller) calls one backend. A call that the gate
//! admits on arrival runs in the caller's own task; one that has to wait is parked in the
//! actor's queue and answered by the task the actor's pump starts for it.

use std::sync::Arc;
use std::time::Instant;

use actix::{Actor, Addr};
use tokio::sync::mpsc;

use super::actor::{ProviderActor, ProviderSettings};
use super::backend::Backend;
use super::call::{Shared, submit};
use super::error::ProviderError;
use super::estimate::{upper_embed, upper_reservation};
use super::messages::ProviderStats;
use super::model::{ChatRequest, ChatResponse, EmbedRequest, EmbedResponse, StreamDelta};
use super::queued::{Done, Job};
use super::retry::AttemptBudget;
use super::usage::UsageLedger;
use crate::scheduler::SliceToken;

/// A started provider actor and the gate it shares with its callers. Clones share both.
#[derive(Clone)]
pub struct ProviderHandle {
    addr: Addr<ProviderActor>,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for ProviderHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderHandle")
            .field("backend", &&*self.shared.name)
            .finish_non_exhaustive()
    }
}

impl ProviderHandle {
    /// Starts a provider actor for `backend` on the current arbiter (inside an actix system).
    pub fn start(
        settings: ProviderSettings,
        backend: Arc<dyn Backend>,
        ledger: UsageLedger,
    ) -> ProviderHandle {
        let actor = ProviderActor::new(settings, backend, ledger);
        let shared = actor.shared();
        ProviderHandle {
            addr: actor.start(),
            shared,
        }
    }

    /// The backend's name.
    pub fn name(&self) -> &str {
        &self.shared.name
    }

    /// The actor's address (for its [`Chat`](super::Chat) / [`Embed`](super::Embed) /
    /// [`GetStats`](super::GetStats) messages).
    pub fn addr(&self) -> &Addr<ProviderActor> {
        &self.addr
    }

    /// One chat call on this backend (`req.model` is the backend's model name), under the
    /// rate-limit gate, retries and breaker. `attempts` is the logical call's attempt budget
    /// (shared along a fallback chain).
    pub fn chat<'a>(
        &'a self,
        req: Arc<ChatRequest>,
        token: &'a SliceToken,
        attempts: &'a AttemptBudget,
        sink: Option<mpsc::UnboundedSender<StreamDelta>>,
    ) -> impl Future<Output = Result<ChatResponse, ProviderError>> + 'a {
        let upper = upper_reservation(&req);
        let job = (Job::Chat { req, sink }, upper);
        submit(
            &self.shared,
            &self.addr,
            job,
            token,
            attempts,
            Done::into_chat,
        )
    }

    /// One embeddings call on this backend.
    pub fn embed<'a>(
        &'a self,
        req: EmbedRequest,
        token: &'a SliceToken,
        attempts: &'a AttemptBudget,
    ) -> impl Future<Output = Result<EmbedResponse, ProviderError>> + 'a {
        let upper = upper_embed(&req.inputs);
        let job = (Job::Embed { req }, upper);
        submit(
            &self.shared,
            &self.addr,
            job,
            token,
            attempts,
            Done::into_embed,
        )
    }

    /// Counters and state now.
    pub fn stats(&self) -> ProviderStats {
        self.shared.gate.lock().stats(Instant::now())
    }
}
