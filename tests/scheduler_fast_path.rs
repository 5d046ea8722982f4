//! The shared core: an uncontended acquire and every release are applied by the caller under the
//! scheduler's lock, without a message to the actor; the actor only drives time (quota windows,
//! preemption retries, expiry), armed by a message when an operation needs a timer.
//!
//! None of these tests depends on timing: "no message handled" is shown by keeping the actor's
//! arbiter thread blocked while the grant happens, and a grant is observed by polling the
//! acquisition once after the releasing thread has returned.

mod scheduler_support;

use std::pin::pin;
use std::sync::mpsc as std_mpsc;
use std::task::Poll;
use std::time::{Duration, Instant};

use actix::{Arbiter, ArbiterHandle};
use agent_os_kernel::Pid;
use agent_os_kernel::scheduler::{
    PolicyKind, Quota, Scheduler, SchedulerConfig, SchedulerError, SchedulerEvent, SliceRequest,
    SliceToken, Usage,
};
use futures::FutureExt;
use scheduler_support::config;
use tokio::sync::mpsc;

/// Only a guard against a hang; no assertion depends on it.
const HANG_GUARD: Duration = Duration::from_secs(30);

/// Blocks `arbiter`'s thread until the returned sender is used (or dropped). Returns once the
/// thread is blocked, so from then on nothing on that arbiter — the scheduler actor included —
/// runs.
fn block(arbiter: &ArbiterHandle) -> std_mpsc::Sender<()> {
    let (unblock_tx, unblock_rx) = std_mpsc::channel::<()>();
    let (blocked_tx, blocked_rx) = std_mpsc::channel::<()>();
    let spawned = arbiter.spawn_fn(move || {
        let _ = blocked_tx.send(());
        let _ = unblock_rx.recv();
    });
    assert!(spawned, "the arbiter is running");
    blocked_rx.recv().expect("the arbiter thread is blocked");
    unblock_tx
}

#[actix_rt::test]
async fn an_uncontended_acquire_is_granted_while_the_actor_cannot_run() {
    let arbiter = Arbiter::new();
    let s = Scheduler::start_in_arbiter(&arbiter.handle(), config(PolicyKind::Priority, 2), None)
        .expect("start");
    let unblock = block(&arbiter.handle());

    // Free slots, nothing queued: granted within the first poll, on this thread.
    let (a, b) = (Pid::new(), Pid::new());
    let ta = s
        .acquire(SliceRequest::new(a))
        .now_or_never()
        .expect("granted without waiting")
        .expect("granted");
    let tb = s
        .acquire(SliceRequest::new(b).priority(10))
        .now_or_never()
        .expect("granted without waiting")
        .expect("granted");
    assert!(ta.is_valid() && tb.is_valid());
    let st = s.stats().now_or_never().expect("stats").expect("stats");
    assert_eq!((st.grants, st.running, st.queued), (2, 2, 0));

    // A release is applied before it returns: the agent's next acquire sees the freed slot.
    s.release_nowait(ta, Usage::tokens(5, 5)).expect("release");
    let ta2 = s
        .acquire(SliceRequest::new(a))
        .now_or_never()
        .expect("granted without waiting")
        .expect("granted");
    let st = s.stats().now_or_never().expect("stats").expect("stats");
    assert_eq!((st.grants, st.running), (3, 2));
    assert_eq!(st.agents[&a].calls, 1);
    assert_eq!(st.agents[&a].input_tokens, 5);

    // Both slots are taken now: a third agent waits, and is not refused.
    let mut third = pin!(s.acquire(SliceRequest::new(Pid::new())));
    assert!(futures::poll!(&mut third).is_pending());
    s.release_nowait(tb, Usage::default()).expect("release");
    let Poll::Ready(Ok(tc)) = futures::poll!(&mut third) else {
        panic!("the released slot went to the waiter");
    };

    drop(unblock);
    s.release(ta2, Usage::default()).await.expect("release");
    s.release(tc, Usage::default()).await.expect("release");
    let st = s.stats().await.expect("stats");
    assert_eq!((st.grants, st.running), (4, 0));
    arbiter.stop();
}

#[actix_rt::test]
async fn a_release_on_another_arbiter_frees_the_slot_for_the_waiter_behind_it() {
    let sched_arbiter = Arbiter::new();
    let other = Arbiter::new();
    let s = Scheduler::start_in_arbiter(&sched_arbiter.handle(), config(PolicyKind::Fifo, 1), None)
        .expect("start");
    // The actor cannot help: its thread stays blocked until the end.
    let unblock = block(&sched_arbiter.handle());

    let holder = s
        .acquire(SliceRequest::new(Pid::new()))
        .now_or_never()
        .expect("granted without waiting")
        .expect("granted");
    let waiter_pid = Pid::new();
    let mut waiter = pin!(s.acquire(SliceRequest::new(waiter_pid).estimated_tokens(7)));
    assert!(futures::poll!(&mut waiter).is_pending(), "no slot is free");
    let st = s.stats().await.expect("stats");
    assert_eq!((st.running, st.queued), (1, 1));

    // The holder's task runs on a third thread and releases there.
    let (done_tx, done_rx) = tokio::sync::oneshot::channel();
    let s2 = s.clone();
    assert!(other.spawn(async move {
        let _ = done_tx.send(s2.release_nowait(holder, Usage::tokens(1, 2)));
    }));
    done_rx
        .await
        .expect("the other arbiter ran the release")
        .expect("released");

    // The grant was made inside that release: one poll receives it.
    let Poll::Ready(Ok(token)) = futures::poll!(&mut waiter) else {
        panic!("the waiter was granted by the release on the other arbiter");
    };
    assert_eq!(token.pid(), waiter_pid);
    assert!(token.is_valid());
    let st = s.stats().await.expect("stats");
    assert_eq!((st.grants, st.running, st.queued), (2, 1, 0));
    assert_eq!(st.agents[&waiter_pid].window.reserved_tokens, 7);

    s.release(token, Usage::default()).await.expect("release");
    drop(unblock);
    other.stop();
    sched_arbiter.stop();
}

#[actix_rt::test]
async fn a_quota_wait_entered_on_the_fast_path_wakes_at_the_window_reset() {
    const WINDOW_MS: u64 = 300;
    let cfg = SchedulerConfig {
        agent_quota: Quota {
            max_calls: Some(1),
            window_ms: WINDOW_MS,
            ..Quota::default()
        },
        ..config(PolicyKind::Fifo, 4)
    };
    let arbiter = Arbiter::new();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let s = Scheduler::start_in_arbiter(&arbiter.handle(), cfg, Some(tx)).expect("start");
    let pid = Pid::new();

    let window_start = Instant::now();
    let t = s
        .acquire(SliceRequest::new(pid))
        .now_or_never()
        .expect("granted without waiting")
        .expect("granted");
    s.release_nowait(t, Usage::tokens(10, 10)).expect("release");
    // Over quota now: the request is parked on this thread and the actor is asked (by an `Arm`
    // message) for the window timer; nothing else will look at it again.
    let second = tokio::time::timeout(HANG_GUARD, s.acquire(SliceRequest::new(pid)))
        .await
        .expect("woken by the window timer")
        .expect("granted");
    assert!(window_start.elapsed() >= Duration::from_millis(WINDOW_MS));
    s.release(second, Usage::tokens(10, 10))
        .await
        .expect("release");

    let st = s.stats().await.expect("stats");
    let a = &st.agents[&pid];
    assert_eq!((a.grants, a.calls), (2, 2));
    assert_eq!(
        a.window.calls, 1,
        "the new window holds only the second call"
    );
    let (mut queued, mut waited) = (0, 0);
    while let Ok(e) = rx.try_recv() {
        match e {
            SchedulerEvent::Queued { .. } => queued += 1,
            SchedulerEvent::WaitingQuota { .. } => waited += 1,
            _ => {}
        }
    }
    assert_eq!(
        (queued, waited),
        (2, 1),
        "one parking, looked at again once"
    );
    arbiter.stop();
}

#[actix_rt::test]
async fn a_preemption_retry_asked_for_on_the_fast_path_fires_at_the_minimum_quantum() {
    const MIN_QUANTUM_MS: u64 = 100;
    let cfg = SchedulerConfig {
        preemption: true,
        preempt_priority_gap: 20,
        min_quantum_ms: MIN_QUANTUM_MS,
        ..config(PolicyKind::Priority, 1)
    };
    let arbiter = Arbiter::new();
    let s = Scheduler::start_in_arbiter(&arbiter.handle(), cfg, None).expect("start");
    let before = Instant::now();
    let holder = s
        .acquire(SliceRequest::new(Pid::new()).priority(80))
        .now_or_never()
        .expect("granted without waiting")
        .expect("granted");
    // An urgent waiter arrives before the holder's minimum quantum: its acquire (on this
    // thread) asks the actor for the retry timer; nothing else would look at it again.
    let urgent = s.acquire(SliceRequest::new(Pid::new()).priority(0));
    let token = tokio::time::timeout(HANG_GUARD, urgent)
        .await
        .expect("the retry timer fired")
        .expect("granted");
    assert!(before.elapsed() >= Duration::from_millis(MIN_QUANTUM_MS));
    assert!(holder.is_revoked());
    s.release(holder, Usage::default()).await.expect("release");
    s.release(token, Usage::default()).await.expect("release");
    let st = s.stats().await.expect("stats");
    assert_eq!((st.preemptions, st.running), (1, 0));
    arbiter.stop();
}

#[actix_rt::test]
async fn a_stopped_scheduler_fails_its_waiters_and_refuses_new_work() {
    let arbiter = Arbiter::new();
    let s = Scheduler::start_in_arbiter(&arbiter.handle(), config(PolicyKind::Fifo, 1), None)
        .expect("start");
    let holder = s
        .acquire(SliceRequest::new(Pid::new()))
        .now_or_never()
        .expect("granted without waiting")
        .expect("granted");
    let mut waiter = pin!(s.acquire(SliceRequest::new(Pid::new())));
    assert!(futures::poll!(&mut waiter).is_pending());

    arbiter.stop();
    // The arbiter's thread has ended, and the actor with it.
    assert!(arbiter.join().is_ok());

    assert!(matches!(
        futures::poll!(&mut waiter),
        Poll::Ready(Err(SchedulerError::Stopped))
    ));
    assert_eq!(
        s.acquire(SliceRequest::new(Pid::new())).await.err(),
        Some(SchedulerError::Stopped)
    );
    assert_eq!(
        s.release_nowait(holder, Usage::default()),
        Err(SchedulerError::Stopped)
    );
    assert!(matches!(s.stats().await, Err(SchedulerError::Stopped)));
    assert!(matches!(
        s.set_policy(PolicyKind::Priority).await,
        Err(SchedulerError::Stopped)
    ));
}

#[actix_rt::test]
async fn an_acquire_dropped_at_its_yield_point_gives_back_the_slice_it_was_granted() {
    let s = Scheduler::start(config(PolicyKind::Fifo, 1)).expect("start");
    std::future::poll_fn(|cx| {
        // Spend the task's cooperative budget, so the next yield point really yields.
        let exhausted = (0..100_000).any(|_| {
            let mut spend = pin!(tokio::task::coop::consume_budget());
            spend.as_mut().poll(cx).is_pending()
        });
        assert!(exhausted, "the test task runs under a cooperative budget");
        // Granted under the lock at once, then parked at its yield point with the slice in
        // hand, and dropped there: the caller never got the token.
        let mut acquire = pin!(s.acquire(SliceRequest::new(Pid::new())));
        assert!(acquire.as_mut().poll(cx).is_pending());
        Poll::Ready(())
    })
    .await;
    let stats = s.stats().await.expect("stats");
    assert_eq!(
        (stats.grants, stats.running),
        (1, 0),
        "granted, then given back"
    );
    // The only slot is free for the next caller.
    let t = tokio::time::timeout(HANG_GUARD, s.acquire(SliceRequest::new(Pid::new())))
        .await
        .expect("not left waiting")
        .expect("granted");
    s.release_nowait(t, Usage::default()).expect("release");
}

/// Compiled, never run: the handle is shared across arbiters and its futures may be spawned on a
/// multi-threaded runtime, as before the core was shared.
fn acquire_and_release_are_send(s: &Scheduler, token: SliceToken) {
    fn send<T: Send>(_: T) {}
    send(s.acquire(SliceRequest::new(Pid::new())));
    send(s.release(token, Usage::default()));
    send(s.stats());
}

#[test]
fn the_handle_and_its_futures_can_cross_threads() {
    fn send_sync<T: Send + Sync + Clone>() {}
    send_sync::<Scheduler>();
    let _ = acquire_and_release_are_send as fn(&Scheduler, SliceToken);
}
