//! Slice tokens: the scheduler's grant to run LLM work ("CPU time").

use std::sync::Arc;
use std::time::Instant;

use super::revoked::{RevokeSignal, Revoked};

use crate::pid::Pid;

/// Identifier of one grant.
pub type TokenId = u64;

/// A grant from the scheduler to run LLM work for one agent.
///
/// Cheap to clone (one `Arc`); every clone observes the same revocation. Whoever executes the
/// work (a provider actor) must check [`SliceToken::is_valid`] before starting and
/// [`SliceToken::is_revoked`] between streamed chunks: an expired or revoked token is refused.
#[derive(Clone, Debug)]
pub struct SliceToken {
    inner: Arc<TokenInner>,
}

#[derive(Debug)]
struct TokenInner {
    id: TokenId,
    pid: Pid,
    provider: Option<Arc<str>>,
    priority: u8,
    quantum_tokens: u64,
    granted_at: Instant,
    deadline: Instant,
    revoked: RevokeSignal,
}

impl SliceToken {
    /// Creates a token. Only the scheduler mints tokens that providers accept in the running
    /// kernel; this constructor is crate-private for that reason (the scheduler itself uses
    /// [`SliceToken::granted`]; this one is for tests).
    #[cfg(test)]
    pub(crate) fn new(
        id: TokenId,
        pid: Pid,
        provider: Option<Arc<str>>,
        priority: u8,
        quantum_tokens: u64,
        deadline: Instant,
    ) -> Self {
        let now = Instant::now();
        Self::granted(id, pid, provider, priority, quantum_tokens, (now, deadline))
    }

    /// A token granted at `span.0`, valid until `span.1` (the scheduler passes the instant it
    /// decided at, instead of reading the clock again).
    pub(crate) fn granted(
        id: TokenId,
        pid: Pid,
        provider: Option<Arc<str>>,
        priority: u8,
        quantum_tokens: u64,
        span: (Instant, Instant),
    ) -> Self {
        let (granted_at, deadline) = span;
        SliceToken {
            inner: Arc::new(TokenInner {
                id,
                pid,
                provider,
                priority,
                quantum_tokens,
                granted_at,
                deadline,
                revoked: RevokeSignal::default(),
            }),
        }
    }

    /// The grant's id.
    pub fn id(&self) -> TokenId {
        self.inner.id
    }
    /// The agent the slice was granted to.
    pub fn pid(&self) -> Pid {
        self.inner.pid
    }
    /// The provider (backend) the slice was granted on, if any was named.
    pub fn provider(&self) -> Option<&str> {
        self.inner.provider.as_deref()
    }
    /// Priority of the request that obtained the slice (0 most urgent … 100).
    pub fn priority(&self) -> u8 {
        self.inner.priority
    }
    /// Tokens the holder may use in this slice.
    pub fn quantum_tokens(&self) -> u64 {
        self.inner.quantum_tokens
    }
    /// When the slice was granted.
    pub fn granted_at(&self) -> Instant {
        self.inner.granted_at
    }
    /// When the slice expires.
    pub fn deadline(&self) -> Instant {
        self.inner.deadline
    }
    /// True while the slice is neither revoked nor past its deadline. One atomic load and one
    /// clock read.
    pub fn is_valid(&self) -> bool {
        self.is_valid_at(Instant::now())
    }
    /// [`SliceToken::is_valid`] at `now` (for a caller that has just read the clock).
    pub fn is_valid_at(&self, now: Instant) -> bool {
        !self.is_revoked() && now < self.inner.deadline
    }
    /// True once the scheduler has revoked (preempted) the slice.
    pub fn is_revoked(&self) -> bool {
        self.inner.revoked.is_set()
    }
    /// Resolves when the slice is revoked. Use in a `select!` beside a streamed generation.
    /// Any number of tasks may wait at once; the first one waits without taking a lock.
    pub fn revoked(&self) -> Revoked<'_> {
        self.inner.revoked.wait()
    }
    /// Revokes the slice; every clone observes it. Returns false if it was already revoked.
    pub(crate) fn revoke(&self) -> bool {
        self.inner.revoked.set()
    }
}
