//! Quotas: an exhausted agent waits for its window without being charged for waiting; an
//! over-cap request is refused without using quota.

mod scheduler_support;

use std::time::{Duration, Instant};

use agent_os_kernel::Pid;
use agent_os_kernel::scheduler::{
    PolicyKind, Quota, QuotaScope, Scheduler, SchedulerConfig, SchedulerError, SchedulerEvent,
    SliceRequest, Usage,
};
use scheduler_support::config;
use tokio::sync::mpsc;

const WINDOW_MS: u64 = 1_000;

#[actix_rt::test]
async fn quota_exhaustion_waits_for_the_window_and_resumes_without_extra_charge() {
    let cfg = SchedulerConfig {
        agent_quota: Quota {
            max_calls: Some(2),
            window_ms: WINDOW_MS,
            ..Quota::default()
        },
        ..config(PolicyKind::Fifo, 4)
    };
    let (tx, mut rx) = mpsc::unbounded_channel();
    let s = Scheduler::start_with_events(cfg, Some(tx)).expect("start");
    let pid = Pid::new();
    let window_start = Instant::now();
    for _ in 0..2 {
        let t = s
            .acquire(SliceRequest::new(pid))
            .await
            .expect("within quota");
        s.release(t, Usage::tokens(10, 10)).await.expect("release");
    }
    let s2 = s.clone();
    let third = actix_rt::spawn(async move {
        let t = s2
            .acquire(SliceRequest::new(pid))
            .await
            .expect("after window");
        let at = Instant::now();
        s2.release(t, Usage::tokens(10, 10)).await.expect("release");
        at
    });
    // While it waits, looking at it repeatedly charges nothing.
    for _ in 0..10 {
        tokio::time::sleep(Duration::from_millis(10)).await;
        let st = s.stats().await.expect("stats");
        assert_eq!(st.waiting_quota, 1);
        assert_eq!(st.agents[&pid].window.calls, 2);
        assert_eq!(st.agents[&pid].grants, 2);
    }
    let granted_at = third.await.expect("third");
    assert!(granted_at.duration_since(window_start) >= Duration::from_millis(WINDOW_MS));

    let st = s.stats().await.expect("stats");
    let a = &st.agents[&pid];
    assert_eq!((a.grants, a.calls), (3, 3));
    assert_eq!((a.input_tokens, a.output_tokens), (30, 30));
    assert_eq!(
        a.window.calls, 1,
        "the new window holds only the resumed call"
    );
    assert_eq!(a.window.tokens, 20);

    let mut waited = 0;
    while let Ok(e) = rx.try_recv() {
        if let SchedulerEvent::WaitingQuota {
            pid: p,
            scope,
            until,
        } = e
        {
            assert_eq!((p, scope), (pid, QuotaScope::Agent(pid)));
            assert!(until >= window_start + Duration::from_millis(WINDOW_MS));
            waited += 1;
        }
    }
    assert_eq!(waited, 1, "one Waiting(quota) and no polling wake-ups");
}

#[actix_rt::test]
async fn an_over_cap_request_is_denied_without_using_quota() {
    let cfg = SchedulerConfig {
        agent_quota: Quota {
            max_calls: Some(1),
            max_tokens: Some(1_000),
            max_tokens_per_request: Some(100),
            window_ms: 60_000,
            ..Quota::default()
        },
        ..config(PolicyKind::Fifo, 1)
    };
    let s = Scheduler::start(cfg).expect("start");
    let pid = Pid::new();
    let err = s
        .acquire(SliceRequest::new(pid).estimated_tokens(500))
        .await
        .expect_err("over cap");
    assert_eq!(
        err,
        SchedulerError::OverRequestCap {
            pid,
            estimated: 500,
            cap: 100
        }
    );
    let st = s.stats().await.expect("stats");
    assert_eq!(st.denials, 1);
    assert_eq!(st.grants, 0);
    assert_eq!(st.global_window.calls + st.global_window.reserved_calls, 0);
    // The single call of the window is still available: granted at once.
    let t = tokio::time::timeout(
        Duration::from_secs(5),
        s.acquire(SliceRequest::new(pid).estimated_tokens(50)),
    )
    .await
    .expect("not left waiting")
    .expect("granted");
    let st = s.stats().await.expect("stats");
    assert_eq!(st.agents[&pid].window.reserved_tokens, 50);
    s.release(t, Usage::tokens(20, 20)).await.expect("release");
    let st = s.stats().await.expect("stats");
    assert_eq!(st.agents[&pid].window.tokens, 40);
    assert_eq!(st.agents[&pid].window.calls, 1);
}

#[actix_rt::test]
async fn a_per_agent_override_replaces_the_configured_quota() {
    let cfg = SchedulerConfig {
        agent_quota: Quota {
            max_calls: Some(1),
            window_ms: 60_000,
            ..Quota::default()
        },
        ..config(PolicyKind::Fifo, 2)
    };
    let s = Scheduler::start(cfg).expect("start");
    let (limited, generous) = (Pid::new(), Pid::new());
    s.set_quota(generous, Some(Quota::unlimited()))
        .await
        .expect("override");
    for _ in 0..3 {
        let t = s
            .acquire(SliceRequest::new(generous))
            .await
            .expect("generous");
        s.release(t, Usage::default()).await.expect("release");
    }
    let t = s
        .acquire(SliceRequest::new(limited))
        .await
        .expect("limited");
    s.release(t, Usage::default()).await.expect("release");
    let s2 = s.clone();
    let waiting = actix_rt::spawn(async move { s2.acquire(SliceRequest::new(limited)).await });
    scheduler_support::wait_queued(&s, 1).await;
    assert_eq!(s.stats().await.expect("stats").waiting_quota, 1);
    // Lifting the limit wakes the parked request at once.
    s.set_quota(limited, Some(Quota::unlimited()))
        .await
        .expect("override");
    let t = tokio::time::timeout(Duration::from_secs(5), waiting)
        .await
        .expect("woken")
        .expect("task")
        .expect("granted");
    s.release(t, Usage::default()).await.expect("release");
    let bad = Quota {
        window_ms: 0,
        ..Quota::default()
    };
    assert!(matches!(
        s.set_quota(limited, Some(bad)).await,
        Err(SchedulerError::InvalidConfig(_))
    ));
}
