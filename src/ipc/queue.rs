//! The data lane's bounded queue: a tokio unbounded channel whose bound is kept in one atomic
//! counter (no lock per message on either side), and a `Notify` for senders that wait for room
//! under backpressure.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};

use tokio::sync::Notify;
use tokio::sync::mpsc::error::TryRecvError;
use tokio::sync::mpsc::{self, UnboundedReceiver, UnboundedSender};

/// The bound shared by both ends.
struct Bound {
    capacity: usize,
    queued: AtomicUsize,
    waiting: AtomicUsize,
    room: Notify,
}

/// Why a message was not enqueued; the message comes back.
pub(crate) enum Refused<T> {
    /// `capacity` messages are queued.
    Full(T),
    /// The receiving end is closed.
    Closed(T),
}

/// A queue holding at most `capacity` messages.
pub(crate) fn bounded<T>(capacity: usize) -> (QueueTx<T>, QueueRx<T>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let bound = Arc::new(Bound {
        capacity,
        queued: AtomicUsize::new(0),
        waiting: AtomicUsize::new(0),
        room: Notify::new(),
    });
    (
        QueueTx {
            tx,
            bound: bound.clone(),
        },
        QueueRx { rx, bound },
    )
}

/// The sending end.
pub(crate) struct QueueTx<T> {
    tx: UnboundedSender<T>,
    bound: Arc<Bound>,
}

impl<T> QueueTx<T> {
    /// Enqueues if there is room.
    #[inline]
    pub(crate) fn try_send(&self, value: T) -> Result<(), Refused<T>> {
        let b = &self.bound;
        if b.queued.fetch_add(1, Ordering::AcqRel) >= b.capacity {
            b.queued.fetch_sub(1, Ordering::AcqRel);
            if self.tx.is_closed() {
                return Err(Refused::Closed(value));
            }
            return Err(Refused::Full(value));
        }
        self.tx.send(value).map_err(|e| {
            b.queued.fetch_sub(1, Ordering::AcqRel);
            Refused::Closed(e.0)
        })
    }

    /// Enqueues, waiting for room while the queue is full; gives the value back if the
    /// receiving end closes.
    pub(crate) async fn send(&self, mut value: T) -> Result<(), T> {
        let b = &self.bound;
        loop {
            let notified = b.room.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            b.waiting.fetch_add(1, Ordering::AcqRel);
            let attempt = self.try_send(value);
            match attempt {
                Ok(()) => {
                    b.waiting.fetch_sub(1, Ordering::AcqRel);
                    return Ok(());
                }
                Err(Refused::Closed(v)) => {
                    b.waiting.fetch_sub(1, Ordering::AcqRel);
                    return Err(v);
                }
                Err(Refused::Full(v)) => value = v,
            }
            notified.await;
            b.waiting.fetch_sub(1, Ordering::AcqRel);
        }
    }

    /// The most messages it holds.
    pub(crate) fn capacity(&self) -> usize {
        self.bound.capacity
    }

    /// Messages queued now.
    pub(crate) fn queued(&self) -> usize {
        self.bound
            .queued
            .load(Ordering::Acquire)
            .min(self.bound.capacity)
    }

    /// Whether the receiving end has closed.
    pub(crate) fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }
}

/// The receiving end.
pub(crate) struct QueueRx<T> {
    rx: UnboundedReceiver<T>,
    bound: Arc<Bound>,
}

impl<T> QueueRx<T> {
    /// One message left the queue: make its room known to a waiting sender.
    #[inline]
    fn took(&self) {
        let b = &self.bound;
        b.queued.fetch_sub(1, Ordering::AcqRel);
        if b.waiting.load(Ordering::Acquire) > 0 {
            b.room.notify_one();
        }
    }

    /// The next message if one is queued.
    #[inline]
    pub(crate) fn try_recv(&mut self) -> Result<T, TryRecvError> {
        let v = self.rx.try_recv()?;
        self.took();
        Ok(v)
    }

    /// Waits for the next message (`None` once every sender is gone).
    #[inline]
    pub(crate) fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let polled = self.rx.poll_recv(cx);
        if let Poll::Ready(Some(_)) = &polled {
            self.took();
        }
        polled
    }

    /// Refuses every later message and wakes senders waiting for room (they get theirs back).
    pub(crate) fn close(&mut self) {
        self.rx.close();
        self.bound.room.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn holds_at_most_its_capacity_and_a_waiting_sender_gets_room() {
        let (tx, mut rx) = bounded::<u32>(2);
        assert!(tx.try_send(1).is_ok());
        assert!(tx.try_send(2).is_ok());
        assert!(matches!(tx.try_send(3), Err(Refused::Full(3))));
        assert_eq!(tx.queued(), 2);
        let tx = Arc::new(tx);
        let t2 = tx.clone();
        let waiting = tokio::spawn(async move { t2.send(3).await });
        tokio::task::yield_now().await;
        assert_eq!(rx.try_recv().ok(), Some(1));
        assert!(waiting.await.unwrap().is_ok());
        assert_eq!(rx.try_recv().ok(), Some(2));
        assert_eq!(rx.try_recv().ok(), Some(3));
        assert_eq!(tx.queued(), 0);
    }

    #[tokio::test]
    async fn closing_gives_waiting_senders_their_message_back() {
        let (tx, mut rx) = bounded::<u32>(1);
        let tx = Arc::new(tx);
        assert!(tx.try_send(1).is_ok());
        let t2 = tx.clone();
        let waiting = tokio::spawn(async move { t2.send(2).await });
        tokio::task::yield_now().await;
        rx.close();
        assert_eq!(waiting.await.unwrap(), Err(2));
        assert!(matches!(tx.try_send(3), Err(Refused::Closed(3))));
        assert!(tx.is_closed());
    }
}
