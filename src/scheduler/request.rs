//! What an agent asks the scheduler for.

use std::sync::Arc;
use std::time::Duration;

use actix::Recipient;

use super::messages::SlicePreempted;
use crate::pid::Pid;

/// The default priority (0 most urgent … 100).
pub const DEFAULT_PRIORITY: u8 = 50;

/// How far a slice request has come, told to its [`SliceObserver`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SliceProgress {
    /// It waits for capacity or for its turn under the policy.
    Queued,
    /// It waits for a quota window to reset.
    WaitingQuota,
    /// It was granted.
    Granted,
}

/// A callback told of a request's progress synchronously, under the scheduler's lock, in the
/// order the scheduler decides (so it is ordered against everything the requester does after
/// its `acquire` returns). It must be quick and must not call the scheduler. The kernel uses it
/// to move an agent between `Waiting(slice)`, `Waiting(quota)` and `Running`.
#[derive(Clone)]
pub struct SliceObserver(Arc<dyn Fn(SliceProgress) + Send + Sync>);

impl SliceObserver {
    /// Wraps a callback.
    pub fn new(f: impl Fn(SliceProgress) + Send + Sync + 'static) -> Self {
        SliceObserver(Arc::new(f))
    }

    pub(crate) fn tell(&self, progress: SliceProgress) {
        (self.0)(progress)
    }
}

impl std::fmt::Debug for SliceObserver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SliceObserver")
    }
}

/// A request for one slice of LLM time.
///
/// ```
/// use agent_os_kernel::scheduler::SliceRequest;
/// use agent_os_kernel::Pid;
/// let req = SliceRequest::new(Pid::new()).priority(10).estimated_tokens(800).provider("openai");
/// assert_eq!(req.priority, 10);
/// ```
#[derive(Clone, Debug)]
pub struct SliceRequest {
    /// The requesting agent.
    pub pid: Pid,
    /// 0 most urgent … 100 least; default 50.
    pub priority: u8,
    /// Tokens (input + output) the call is expected to use; checked against quotas and reserved
    /// while the slice runs.
    pub estimated_tokens: u64,
    /// The provider (backend) the call will run on, if known. Providers named in
    /// `per_provider_slots` have their own capacity.
    pub provider: Option<Arc<str>>,
    /// The request continues a slice that was preempted: it re-queues at the head of its class.
    pub resume: bool,
    /// Lifetime of the slice; the configured default when `None`.
    pub deadline: Option<Duration>,
    /// Where to send [`SlicePreempted`] if the slice is revoked (the agent's control lane).
    pub notify: Option<Recipient<SlicePreempted>>,
    /// Told of the request's progress (queued, waiting for quota, granted).
    pub observer: Option<SliceObserver>,
}

impl SliceRequest {
    /// A request for `pid` with default priority, no estimate and no provider.
    pub fn new(pid: Pid) -> Self {
        SliceRequest {
            pid,
            priority: DEFAULT_PRIORITY,
            estimated_tokens: 0,
            provider: None,
            resume: false,
            deadline: None,
            notify: None,
            observer: None,
        }
    }

    /// Sets the priority (0 most urgent … 100).
    pub fn priority(mut self, priority: u8) -> Self {
        self.priority = priority;
        self
    }

    /// Sets the token estimate.
    pub fn estimated_tokens(mut self, tokens: u64) -> Self {
        self.estimated_tokens = tokens;
        self
    }

    /// Names the target provider.
    pub fn provider(mut self, provider: impl Into<Arc<str>>) -> Self {
        self.provider = Some(provider.into());
        self
    }

    /// Marks the request as the continuation of a preempted slice.
    pub fn resume(mut self, resume: bool) -> Self {
        self.resume = resume;
        self
    }

    /// Sets the slice's lifetime.
    pub fn deadline(mut self, deadline: Duration) -> Self {
        self.deadline = Some(deadline);
        self
    }

    /// Sets the recipient of the preemption notice.
    pub fn notify(mut self, recipient: Recipient<SlicePreempted>) -> Self {
        self.notify = Some(recipient);
        self
    }

    /// Sets the observer of the request's progress.
    pub fn observe(mut self, observer: SliceObserver) -> Self {
        self.observer = Some(observer);
        self
    }

    pub(crate) fn progress(&self, progress: SliceProgress) {
        if let Some(o) = &self.observer {
            o.tell(progress);
        }
    }
}
