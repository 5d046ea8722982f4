//! The state every [`super::Scheduler`] handle and the [`super::SchedulerActor`] share: the
//! [`Core`] under one lock, plus what the handles must know about the actor's timers.
//!
//! Every scheduling decision is taken by `Core` while this lock is held, so all operations —
//! from any thread — happen in one total order. The lock is never held across an `.await`, and
//! nothing under it runs user code: it only sends on channels (grant replies, events, preemption
//! notices) and flips token flags, all of which merely wake other tasks.

use std::sync::Arc;
use std::time::Instant;

use parking_lot::Mutex;

use super::core::{Core, Wakeups};
use super::queue::Waiter;

/// The shared scheduler state.
pub(crate) type Shared = Arc<Mutex<State>>;

/// See the module docs.
pub(crate) struct State {
    /// The scheduling state machine.
    pub(crate) core: Core,
    /// The earliest preemption retry that is armed on the actor or on its way there in an `Arm`
    /// message; a later retry needs no new message.
    preempt_armed: Option<Instant>,
    /// Set once the actor has stopped: nothing is accepted any more.
    stopped: bool,
}

impl State {
    /// Wraps a core.
    pub(crate) fn new(core: Core) -> Self {
        State {
            core,
            preempt_armed: None,
            stopped: false,
        }
    }

    /// Builds the shared handle.
    pub(crate) fn shared(core: Core) -> Shared {
        Arc::new(Mutex::new(State::new(core)))
    }

    /// True once the actor has stopped.
    pub(crate) fn is_stopped(&self) -> bool {
        self.stopped
    }

    /// Keeps of `wake` what no armed (or already requested) timer covers, and records the
    /// preemption retry it keeps as armed. Quota timers are already deduplicated by the core
    /// (one per quota scope and instant), so they pass through.
    pub(crate) fn claim(&mut self, mut wake: Wakeups) -> Wakeups {
        if let Some(at) = wake.preempt_at {
            if self.preempt_armed.is_some_and(|t| t <= at) {
                wake.preempt_at = None;
            } else {
                self.preempt_armed = Some(at);
            }
        }
        wake
    }

    /// The actor's preemption timer for `at` fired: a retry recorded at or after `at` is no
    /// longer pending (an earlier one still is: its `Arm` message is on its way).
    pub(crate) fn preempt_fired(&mut self, at: Instant) {
        if self.preempt_armed.is_some_and(|t| t >= at) {
            self.preempt_armed = None;
        }
    }

    /// Marks the scheduler stopped and takes every waiting request out of the core; the caller
    /// answers them (outside the lock). Running slices keep their tokens until their deadline.
    pub(crate) fn stop(&mut self) -> Vec<Waiter> {
        self.stopped = true;
        self.preempt_armed = None;
        self.core.drain_waiters()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::pid::Pid;
    use crate::scheduler::config::SchedulerConfig;
    use crate::scheduler::core::Submitted;
    use crate::scheduler::event::QuotaScope;
    use crate::scheduler::request::SliceRequest;

    fn state(slots: usize) -> State {
        let config = SchedulerConfig {
            global_slots: slots,
            ..SchedulerConfig::default()
        };
        State::new(Core::new(config, None).expect("valid config"))
    }

    fn preempt(at: Instant) -> Wakeups {
        Wakeups {
            quota: Vec::new(),
            preempt_at: Some(at),
        }
    }

    #[test]
    fn a_preemption_retry_covered_by_an_armed_one_asks_for_no_timer() {
        let mut st = state(1);
        let t0 = Instant::now() + Duration::from_millis(100);
        assert_eq!(st.claim(preempt(t0)).preempt_at, Some(t0));
        assert!(st.claim(preempt(t0)).is_empty(), "the same instant");
        assert!(st.claim(preempt(t0 + Duration::from_millis(10))).is_empty());
        let earlier = t0 - Duration::from_millis(50);
        assert_eq!(st.claim(preempt(earlier)).preempt_at, Some(earlier));
        // That earlier timer fired: a retry at t0 needs a timer of its own again.
        st.preempt_fired(earlier);
        assert_eq!(st.claim(preempt(t0)).preempt_at, Some(t0));
        // Quota timers are deduplicated by the core and pass through.
        let quota = st.claim(Wakeups {
            quota: vec![(QuotaScope::Global, t0)],
            preempt_at: None,
        });
        assert_eq!(quota.quota.len(), 1);
        assert!(st.claim(Wakeups::default()).is_empty());
    }

    #[test]
    fn a_later_timer_firing_keeps_an_earlier_retry_that_is_still_on_its_way() {
        let mut st = state(1);
        let late = Instant::now() + Duration::from_millis(200);
        let early = late - Duration::from_millis(100);
        assert!(st.claim(preempt(late)).preempt_at.is_some());
        assert!(st.claim(preempt(early)).preempt_at.is_some());
        st.preempt_fired(late);
        assert!(
            st.claim(preempt(early + Duration::from_millis(1)))
                .is_empty(),
            "the earlier retry's Arm message still covers it"
        );
    }

    #[test]
    fn stopping_takes_every_waiter_and_refuses_from_then_on() {
        let mut st = state(1);
        let now = Instant::now();
        let first = st.core.submit(SliceRequest::new(Pid::new()), now);
        assert!(
            matches!(first, Submitted::Granted(_)),
            "the first is granted at once"
        );
        let second = st.core.submit(SliceRequest::new(Pid::new()), now);
        let Submitted::Queued(_rx2) = second else {
            panic!("the second must wait for the only slot");
        };
        assert!(st.core.dispatch(now).is_empty());
        assert!(!st.is_stopped());
        let waiters = st.stop();
        assert_eq!(waiters.len(), 1, "the second was still waiting");
        assert!(st.is_stopped());
        let (stats, _) = st.core.stats(now);
        assert_eq!((stats.queued, stats.running), (0, 1));
    }
}
