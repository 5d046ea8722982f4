//! The kernel's supervisors: create, stop.

use std::sync::atomic::Ordering;

use actix::{Actor, Addr};

use crate::error::SpawnError;
use crate::kernel::Kernel;
use crate::supervisor::messages::{AddChild, ChildKey, StopSupervisor};
use crate::supervisor::{SupervisorActor, SupervisorError, SupervisorId, SupervisorSpec};

impl Kernel {
    /// Creates a supervisor (under the root, or under `spec.parent`). Agents are placed under
    /// it with [`crate::SpawnOptions::supervisor`].
    #[allow(
        clippy::unused_async,
        reason = "creating a supervisor starts an actor; async so callers do not rely on it being synchronous"
    )]
    pub async fn supervisor(&self, spec: SupervisorSpec) -> Result<SupervisorId, SpawnError> {
        if self.inner.shutting_down.load(Ordering::Acquire) {
            return Err(SpawnError::ShuttingDown);
        }
        let parent_id = spec.parent.unwrap_or(SupervisorId::ROOT);
        let parent = self
            .inner
            .supervisors
            .get(&parent_id)
            .map(|a| a.clone())
            .ok_or(SpawnError::NoSuchSupervisor(parent_id))?;
        let id = SupervisorId(self.inner.next_supervisor.fetch_add(1, Ordering::Relaxed));
        let restart = spec.restart;
        let actor = SupervisorActor::new(
            id,
            spec,
            Some(parent.clone().recipient()),
            self.inner.events.clone(),
            self.inner.supervisors.clone(),
        );
        let addr = actor.start();
        self.inner.supervisors.insert(id, addr.clone());
        parent.do_send(AddChild {
            key: ChildKey::Supervisor(id),
            restart,
            limit: None,
            handle: addr.recipient(),
        });
        Ok(id)
    }

    pub(crate) fn supervisor_addr(&self, id: SupervisorId) -> Option<Addr<SupervisorActor>> {
        self.inner.supervisors.get(&id).map(|a| a.clone())
    }

    /// Stops a supervisor gracefully with everything under it: its agents finish the message
    /// they are handling and run `on_stop` (each within its stop deadline), its
    /// sub-supervisors do the same with theirs; every exit reason is `SupervisorShutdown` and
    /// nothing is restarted. Resolves once all of them have terminated; from the first moment,
    /// spawning under it fails with [`SpawnError::NoSuchSupervisor`].
    pub async fn stop_supervisor(&self, id: SupervisorId) -> Result<(), SupervisorError> {
        if id == SupervisorId::ROOT {
            return Err(SupervisorError::Root);
        }
        let (_, addr) = self
            .inner
            .supervisors
            .remove(&id)
            .ok_or(SupervisorError::NoSuchSupervisor(id))?;
        let (done, stopped) = tokio::sync::oneshot::channel();
        addr.do_send(StopSupervisor { done });
        // A supervisor that vanished meanwhile (kernel shutdown) has stopped too.
        let _ = stopped.await;
        Ok(())
    }
}
