//! Preemption: a far more urgent newcomer revokes the least urgent running slice; the preempted
//! streamed generation keeps its partial output, re-queues with `resume` and finishes whole.

mod scheduler_support;

use std::time::Duration;

use actix::Actor;
use agent_os_kernel::Pid;
use agent_os_kernel::scheduler::{
    PolicyKind, Scheduler, SchedulerConfig, SchedulerEvent, SliceRequest, Usage,
};
use scheduler_support::{ControlLane, config, stream_generation, wait_queued};
use tokio::sync::mpsc;

fn preemptive(policy: PolicyKind) -> SchedulerConfig {
    SchedulerConfig {
        preemption: true,
        preempt_priority_gap: 20,
        min_quantum_ms: 20,
        ..config(policy, 1)
    }
}

#[actix_rt::test]
async fn an_urgent_newcomer_preempts_and_the_preempted_stream_finishes_whole() {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let s =
        Scheduler::start_with_events(preemptive(PolicyKind::Priority), Some(tx)).expect("start");
    let (lax, urgent) = (Pid::new(), Pid::new());
    let lane = ControlLane::default();
    let notices = lane.0.clone();
    let lane_addr = lane.start();

    let pause = Duration::from_millis(5);
    let lax_gen = actix_rt::spawn(stream_generation(
        s.clone(),
        lax,
        90,
        30,
        10,
        pause,
        Some(lane_addr.recipient()),
    ));
    // Let the lax agent stream for a while (well past its 20 ms minimum quantum).
    tokio::time::sleep(Duration::from_millis(60)).await;
    let urgent_gen = actix_rt::spawn(stream_generation(s.clone(), urgent, 0, 5, 10, pause, None));

    let u = urgent_gen.await.expect("urgent");
    let l = lax_gen.await.expect("lax");

    let expected: Vec<String> = (0..30).map(|i| format!("{lax}:{i}")).collect();
    assert_eq!(
        l.output, expected,
        "full output, in order, nothing repeated"
    );
    assert_eq!(l.preempted, 1);
    assert_eq!(l.slices, 2, "one preempted slice plus the resumed one");
    assert!(
        l.per_slice[0] > 0 && l.per_slice[0] < 30,
        "{:?}",
        l.per_slice
    );
    assert_eq!(u.output.len(), 5);
    assert_eq!(u.preempted, 0);

    let st = s.stats().await.expect("stats");
    assert_eq!(st.preemptions, 1);
    assert_eq!(st.agents[&lax].preemptions, 1);
    assert_eq!(st.agents[&urgent].preemptions, 0);
    assert_eq!(
        st.agents[&lax].output_tokens, 300,
        "partial + resumed usage both charged"
    );

    // The holder was told through its control lane.
    tokio::time::sleep(Duration::from_millis(10)).await;
    let n = notices.lock().expect("lock").clone();
    assert_eq!(n.len(), 1);
    assert_eq!((n[0].pid, n[0].by), (lax, urgent));

    // The preemption happened at the urgent agent's grant, and the resumed lax slice came after
    // the urgent agent was done.
    let mut events = Vec::new();
    while let Ok(e) = rx.try_recv() {
        events.push(e);
    }
    let pos = |f: &dyn Fn(&SchedulerEvent) -> bool| events.iter().position(f);
    let preempted = pos(&|e| matches!(e, SchedulerEvent::Preempted { pid, .. } if *pid == lax))
        .expect("preempted event");
    assert!(
        matches!(&events[preempted + 1], SchedulerEvent::Granted { pid, .. } if *pid == urgent),
        "{:?}",
        &events[preempted..]
    );
    let urgent_last_release = events
        .iter()
        .rposition(|e| matches!(e, SchedulerEvent::Released { pid, .. } if *pid == urgent))
        .expect("urgent released");
    let lax_resumed = events
        .iter()
        .rposition(|e| matches!(e, SchedulerEvent::Granted { pid, .. } if *pid == lax))
        .expect("lax regranted");
    assert!(lax_resumed > urgent_last_release);
}

#[actix_rt::test]
async fn a_resumed_request_re_queues_at_the_head_of_its_class() {
    let s = Scheduler::start(preemptive(PolicyKind::Fifo)).expect("start");
    let (holder, other, resumed) = (Pid::new(), Pid::new(), Pid::new());
    let t = s.acquire(SliceRequest::new(holder)).await.expect("holder");
    let s2 = s.clone();
    let first = actix_rt::spawn(async move {
        let t = s2.acquire(SliceRequest::new(other)).await.expect("other");
        s2.release(t, Usage::default()).await.expect("release");
        "other"
    });
    wait_queued(&s, 1).await;
    let s3 = s.clone();
    let second = actix_rt::spawn(async move {
        let t = s3
            .acquire(SliceRequest::new(resumed).resume(true))
            .await
            .expect("resumed");
        let left = s3.stats().await.expect("stats").queued;
        s3.release(t, Usage::default()).await.expect("release");
        left
    });
    wait_queued(&s, 2).await;
    s.release(t, Usage::default()).await.expect("release");
    assert_eq!(
        second.await.expect("second"),
        1,
        "the resumed request went first"
    );
    assert_eq!(first.await.expect("first"), "other");
}

#[actix_rt::test]
async fn no_preemption_before_the_minimum_quantum_or_within_the_gap() {
    let cfg = SchedulerConfig {
        min_quantum_ms: 150,
        ..preemptive(PolicyKind::Priority)
    };
    let s = Scheduler::start(cfg).expect("start");
    let holder = s
        .acquire(SliceRequest::new(Pid::new()).priority(60))
        .await
        .expect("holder");
    let granted_at = std::time::Instant::now();
    // Within the gap (60 - 45 < 20): never preempts.
    let s2 = s.clone();
    let near =
        actix_rt::spawn(
            async move { s2.acquire(SliceRequest::new(Pid::new()).priority(45)).await },
        );
    wait_queued(&s, 1).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        holder.is_valid(),
        "a waiter within the gap does not preempt"
    );
    // Far more urgent: preempts, but only once the holder has run 150 ms.
    let s3 = s.clone();
    let far =
        actix_rt::spawn(async move { s3.acquire(SliceRequest::new(Pid::new()).priority(0)).await });
    let far_token = far.await.expect("far").expect("granted");
    assert!(granted_at.elapsed() >= Duration::from_millis(150));
    assert!(holder.is_revoked());
    assert!(!holder.is_valid());
    s.release(far_token, Usage::default())
        .await
        .expect("release");
    let near_token = near.await.expect("near").expect("granted");
    s.release(near_token, Usage::default())
        .await
        .expect("release");
    s.release(holder, Usage::default())
        .await
        .expect("late release");
    let st = s.stats().await.expect("stats");
    assert_eq!(st.preemptions, 1);
    assert_eq!(
        st.running, 0,
        "a late release of a revoked slice frees nothing twice"
    );
}
