//! The agent whose handler is running on this task, if any: messages sent from inside a
//! handler carry its pid as their sender, and waiting for a reply shows as `Waiting(reply)`.

use std::sync::Arc;

use crate::agent::state::ProcessShared;
use crate::agent::{AgentState, WaitReason};
use crate::events::EventBus;
use crate::pid::Pid;

/// The running agent, set for the whole life of one run-loop incarnation.
pub(crate) struct Current {
    pub(crate) pid: Pid,
    pub(crate) shared: Arc<ProcessShared>,
    pub(crate) events: EventBus,
    /// The agent's policy when it limits whom it may message (`None`: anyone), and the audit
    /// log its refusals go to.
    pub(crate) ipc: Option<(
        Arc<crate::security::policy::SecurityPolicy>,
        crate::security::audit::AuditLog,
    )>,
}

tokio::task_local! {
    static CURRENT: Arc<Current>;
}

impl Current {
    /// Runs `fut` with `self` as the current agent.
    pub(crate) fn scope<F: Future>(self, fut: F) -> impl Future<Output = F::Output> {
        CURRENT.scope(Arc::new(self), fut)
    }

    /// The pid of the agent whose task this is (`None` outside any agent).
    #[inline]
    pub(crate) fn pid() -> Option<Pid> {
        CURRENT.try_with(|c| c.pid).ok()
    }

    /// Whether the current agent (if any) may message the agent named `to`; a refusal is
    /// published as a `PolicyDenied` event. When the agent's policy limits whom it may message,
    /// the decision is audited either way (`ipc.send`); an agent free to message anyone pays
    /// no check and leaves no record per message.
    #[inline]
    pub(crate) fn may_send(to: &str) -> Result<(), crate::security::policy::Denied> {
        CURRENT
            .try_with(|c| match &c.ipc {
                None => Ok(()),
                Some((policy, audit)) => match policy.check_message(to) {
                    Ok(()) => {
                        audit.record(
                            crate::security::audit::AuditRecord::new("ipc.send")
                                .pid(c.pid)
                                .target(to)
                                .allowed(true),
                        );
                        Ok(())
                    }
                    Err(d) => {
                        crate::security::report_denial(c.pid, &d, &c.events, audit);
                        Err(d)
                    }
                },
            })
            .unwrap_or(Ok(()))
    }

    /// Marks the current agent `Waiting(reply)` until the returned guard is dropped (several
    /// asks in flight at once count as one wait).
    pub(crate) fn waiting_for_reply() -> Option<ReplyWait> {
        CURRENT
            .try_with(|c| {
                if c.shared.begin_reply_wait() {
                    c.shared
                        .transition(c.pid, AgentState::Waiting(WaitReason::Reply), &c.events);
                }
                ReplyWait(Arc::clone(c))
            })
            .ok()
    }
}

/// Ends a `Waiting(reply)` when dropped — also when the ask's future is dropped unfinished.
pub(crate) struct ReplyWait(Arc<Current>);

impl ReplyWait {
    /// The waiting agent's pid (the sender of the request).
    pub(crate) fn pid(&self) -> Pid {
        self.0.pid
    }
}

impl Drop for ReplyWait {
    fn drop(&mut self) {
        let c = &self.0;
        if c.shared.end_reply_wait() {
            c.shared.settle(
                c.pid,
                AgentState::Waiting(WaitReason::Reply),
                AgentState::Running,
                &c.events,
            );
        }
    }
}
