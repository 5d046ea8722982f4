//! Protection: the security policy every agent's syscalls pass, the sandbox code and shell
//! tools run in, and the tamper-evident audit log of what agents and outside callers do.
//!
//! - [`policy`]: per-agent permission level, allow/block lists for tools, agents and models,
//!   canonicalised path checks, network and resource limits. Enforced today on IPC sends and
//!   LLM calls; the tool host (next) enforces the rest.
//! - [`sandbox`]: bubblewrap runs under the policy's limits.
//! - [`audit`]: the hash-chained, append-only log (`Kernel::audit`).

pub mod audit;
pub mod policy;
pub mod sandbox;

/// Publishes a refusal as a `PolicyDenied` event and records it in the audit log.
pub(crate) fn report_denial(
    pid: crate::Pid,
    denied: &policy::Denied,
    events: &crate::events::EventBus,
    audit: &audit::AuditLog,
) {
    events.emit_with(|| crate::KernelEvent::PolicyDenied {
        pid,
        action: denied.action.to_string(),
        target: denied.target.clone(),
        reason: denied.reason.clone(),
    });
    audit.record(
        audit::AuditRecord::new(denied.action)
            .pid(pid)
            .target(denied.target.clone())
            .denied(denied.reason.clone()),
    );
}
