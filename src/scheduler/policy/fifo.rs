//! First come, first served.

use super::{Policy, QueueKey, WaitMeta};
use crate::scheduler::config::PolicyKind;

/// Orders by request order only; a resumed request goes to the very front.
#[derive(Debug, Default)]
pub(crate) struct Fifo;

impl Policy for Fifo {
    fn kind(&self) -> PolicyKind {
        PolicyKind::Fifo
    }

    fn key(&mut self, meta: &WaitMeta) -> QueueKey {
        QueueKey {
            primary: 0,
            order: meta.order,
        }
    }
}
