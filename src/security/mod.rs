//! Security: what the kernel records about what agents and outside callers do.
//!
//! Today this is the tamper-evident [`audit`] log. Policy (who may do what: a decision point
//! that records each decision as `policy.decide`) and sandboxing (tool execution under
//! limits) come later and will record through the same [`audit::AuditLog`].

pub mod audit;
