//! The revocation signal of a slice token: a flag, and a way to wait for it.
//!
//! Almost always exactly one task waits on a slice at a time — the provider attempt running on
//! it — and it waits on every call. That watcher claims a single waker slot (a few atomic
//! operations, no lock); any further watcher at the same time falls back to a [`Notify`]
//! (a lock and a list entry), so every watcher is woken whatever their number.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use futures::task::AtomicWaker;
use tokio::sync::Notify;
use tokio::sync::futures::Notified;

/// See the module docs.
#[derive(Debug, Default)]
pub(crate) struct RevokeSignal {
    revoked: AtomicBool,
    /// True while one watcher owns `waker`.
    claimed: AtomicBool,
    waker: AtomicWaker,
    others: Notify,
}

impl RevokeSignal {
    /// True once revoked.
    pub(crate) fn is_set(&self) -> bool {
        self.revoked.load(Ordering::Acquire)
    }

    /// Revokes and wakes every watcher. Returns false if it was already revoked.
    pub(crate) fn set(&self) -> bool {
        let first = !self.revoked.swap(true, Ordering::AcqRel);
        if first {
            self.waker.wake();
            self.others.notify_waiters();
        }
        first
    }

    /// A future that resolves once revoked.
    pub(crate) fn wait(&self) -> Revoked<'_> {
        Revoked {
            signal: self,
            state: Watch::Unregistered,
        }
    }
}

enum Watch<'a> {
    Unregistered,
    /// Owns the signal's waker slot (handed back on drop).
    Claimed,
    /// Another watcher owns the slot: waits on the shared `Notify` (boxed: it must not move).
    Shared(Pin<Box<Notified<'a>>>),
}

/// Resolves when the slice is revoked (see [`super::SliceToken::revoked`]).
#[must_use = "futures do nothing unless awaited"]
pub struct Revoked<'a> {
    signal: &'a RevokeSignal,
    state: Watch<'a>,
}

impl std::fmt::Debug for Revoked<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Revoked")
            .field("revoked", &self.signal.is_set())
            .finish_non_exhaustive()
    }
}

impl Future for Revoked<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        // `Revoked` holds no self-reference (the `Notified` is boxed): it is `Unpin`.
        let this = self.get_mut();
        let signal = this.signal;
        if signal.is_set() {
            return Poll::Ready(());
        }
        if let Watch::Unregistered = this.state {
            this.state = if signal
                .claimed
                .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
            {
                Watch::Claimed
            } else {
                Watch::Shared(Box::pin(signal.others.notified()))
            };
        }
        match &mut this.state {
            Watch::Claimed => {
                signal.waker.register(cx.waker());
            }
            Watch::Shared(notified) => loop {
                // Created before the flag is read, so a revocation after that read wakes it.
                if signal.is_set() {
                    return Poll::Ready(());
                }
                if notified.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
                notified.set(signal.others.notified());
            },
            Watch::Unregistered => {}
        }
        // Registered before this second read: a revocation after it wakes this task.
        if signal.is_set() {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

impl Drop for Revoked<'_> {
    fn drop(&mut self) {
        if let Watch::Claimed = self.state {
            self.signal.waker.take();
            self.signal.claimed.store(false, Ordering::Release);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use futures::FutureExt;

    use super::*;

    #[tokio::test]
    async fn every_watcher_is_woken_whether_it_owns_the_waker_slot_or_not() {
        let signal = Arc::new(RevokeSignal::default());
        let watchers: Vec<_> = (0..3)
            .map(|_| {
                let s = Arc::clone(&signal);
                tokio::spawn(async move { s.wait().await })
            })
            .collect();
        // Let every watcher register (one owns the slot, two share the Notify).
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(watchers.iter().all(|w| !w.is_finished()));
        assert!(signal.set());
        assert!(!signal.set(), "revoked once");
        for w in watchers {
            tokio::time::timeout(Duration::from_secs(10), w)
                .await
                .expect("woken")
                .expect("watcher task");
        }
        assert!(signal.wait().now_or_never().is_some(), "ready once revoked");
    }

    #[test]
    fn a_dropped_watcher_hands_the_slot_to_the_next() {
        let signal = RevokeSignal::default();
        let mut first = signal.wait();
        let waker = futures::task::noop_waker();
        let mut cx = Context::from_waker(&waker);
        assert!(Pin::new(&mut first).poll(&mut cx).is_pending());
        assert!(matches!(first.state, Watch::Claimed));
        let mut second = signal.wait();
        assert!(Pin::new(&mut second).poll(&mut cx).is_pending());
        assert!(matches!(second.state, Watch::Shared(_)));
        drop(first);
        let mut third = signal.wait();
        assert!(Pin::new(&mut third).poll(&mut cx).is_pending());
        assert!(
            matches!(third.state, Watch::Claimed),
            "the slot was handed back"
        );
        signal.set();
        assert!(Pin::new(&mut second).poll(&mut cx).is_ready());
        assert!(Pin::new(&mut third).poll(&mut cx).is_ready());
    }
}
