//! Supervision with OTP semantics.
//!
//! Every agent lives under a supervisor: the kernel's root supervisor unless
//! [`crate::SpawnOptions::supervisor`] names one created with [`crate::Kernel::supervisor`].
//! Supervisors nest; a supervisor over its restart intensity escalates to its parent. See
//! `docs/semantics.md` for the rules.

mod actor;
mod error;
mod exit;
pub(crate) mod messages;
mod spec;
mod window;

pub(crate) use actor::{SupervisorActor, SupervisorMap};
pub use error::SupervisorError;
pub use exit::ExitReason;
pub use spec::{RestartType, Strategy, SupervisorId, SupervisorSpec};
