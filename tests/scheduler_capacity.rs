//! Capacity: global and per-provider slots are never exceeded; expired slices free their slot.

mod scheduler_support;

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::time::Duration;

use agent_os_kernel::Pid;
use agent_os_kernel::scheduler::{PolicyKind, Scheduler, SchedulerConfig, SliceRequest, Usage};
use scheduler_support::config;

#[derive(Default)]
struct Gauge {
    now: BTreeMap<&'static str, usize>,
    max: BTreeMap<&'static str, usize>,
}

impl Gauge {
    fn enter(&mut self, lane: &'static str) {
        for l in [lane, "total"] {
            let n = self.now.entry(l).or_default();
            *n += 1;
            let m = self.max.entry(l).or_default();
            *m = (*m).max(*n);
        }
    }
    fn leave(&mut self, lane: &'static str) {
        for l in [lane, "total"] {
            *self.now.entry(l).or_default() -= 1;
        }
    }
}

#[actix_rt::test]
async fn per_provider_and_global_capacity_are_never_exceeded() {
    for policy in PolicyKind::ALL {
        let mut cfg = config(policy, 4);
        cfg.per_provider_slots = BTreeMap::from([("a".into(), 1), ("b".into(), 2)]);
        let s = Scheduler::start(cfg).expect("start");
        let gauge = Rc::new(RefCell::new(Gauge::default()));
        let mut tasks = Vec::new();
        for i in 0..60u8 {
            let lane = ["a", "b", "c", "none"][usize::from(i % 4)];
            let (s2, g2) = (s.clone(), gauge.clone());
            tasks.push(actix_rt::spawn(async move {
                let mut req = SliceRequest::new(Pid::new()).priority(i % 101);
                if lane != "none" {
                    req = req.provider(lane);
                }
                let t = s2.acquire(req).await.expect("acquire");
                assert_eq!(t.provider(), (lane != "none").then_some(lane));
                g2.borrow_mut().enter(lane);
                tokio::time::sleep(Duration::from_millis(2)).await;
                g2.borrow_mut().leave(lane);
                s2.release(t, Usage::default()).await.expect("release");
            }));
        }
        for t in tasks {
            t.await.expect("task");
        }
        let g = gauge.take();
        assert_eq!(
            g.max["a"], 1,
            "{policy}: provider a never holds more than 1 slot"
        );
        assert!(
            g.max["b"] <= 2,
            "{policy}: provider b never holds more than 2 slots"
        );
        assert!(
            g.max["total"] <= 4,
            "{policy}: never more than 4 global slots"
        );
        assert!(g.max["total"] > 1, "{policy}: slots were used concurrently");
        let st = s.stats().await.expect("stats");
        assert_eq!(st.grants, 60);
        assert_eq!(st.running, 0);
    }
}

#[actix_rt::test]
async fn an_expired_slice_is_invalid_and_its_slot_is_reclaimed() {
    let cfg = SchedulerConfig {
        reclaim_interval_ms: 10,
        ..config(PolicyKind::Fifo, 1)
    };
    let s = Scheduler::start(cfg).expect("start");
    let pid = Pid::new();
    let stale = s
        .acquire(SliceRequest::new(pid).deadline(Duration::from_millis(30)))
        .await
        .expect("first");
    assert!(stale.is_valid());
    // Never released: the next request gets the slot once the deadline passes.
    let next = tokio::time::timeout(
        Duration::from_secs(5),
        s.acquire(SliceRequest::new(Pid::new())),
    )
    .await
    .expect("slot reclaimed")
    .expect("granted");
    assert!(!stale.is_valid());
    assert!(next.is_valid());
    let st = s.stats().await.expect("stats");
    assert_eq!((st.expirations, st.running), (1, 1));
    // A late release charges the usage but frees nothing twice.
    s.release(stale, Usage::tokens(5, 5))
        .await
        .expect("late release");
    let st = s.stats().await.expect("stats");
    assert_eq!(st.running, 1);
    assert_eq!(st.agents[&pid].output_tokens, 5);
    s.release(next, Usage::default()).await.expect("release");
}

#[actix_rt::test]
async fn forgetting_an_agent_cancels_its_requests_and_revokes_its_slices() {
    let s = Scheduler::start(config(PolicyKind::Fifo, 1)).expect("start");
    let (gone, other) = (Pid::new(), Pid::new());
    let held = s.acquire(SliceRequest::new(gone)).await.expect("held");
    let s2 = s.clone();
    let waiting = actix_rt::spawn(async move { s2.acquire(SliceRequest::new(gone)).await });
    let s3 = s.clone();
    let others = actix_rt::spawn(async move { s3.acquire(SliceRequest::new(other)).await });
    scheduler_support::wait_queued(&s, 2).await;
    s.forget(gone).await.expect("forget");
    assert!(held.is_revoked());
    assert!(waiting.await.expect("task").is_err());
    let t = others
        .await
        .expect("task")
        .expect("granted to the other agent");
    s.release(t, Usage::default()).await.expect("release");
}

#[actix_rt::test]
async fn invalid_configuration_and_priorities_are_refused() {
    let cfg = SchedulerConfig {
        global_slots: 0,
        ..SchedulerConfig::default()
    };
    assert!(Scheduler::start(cfg).is_err());
    let s = Scheduler::start(config(PolicyKind::Priority, 1)).expect("start");
    assert!(
        s.acquire(SliceRequest::new(Pid::new()).priority(101))
            .await
            .is_err()
    );
    let parsed: SchedulerConfig =
        serde_json::from_str(r#"{"policy":"fair_share","global_slots":8}"#).expect("parse");
    assert_eq!(
        (parsed.policy, parsed.global_slots),
        (PolicyKind::FairShare, 8)
    );
    assert!(serde_json::from_str::<SchedulerConfig>(r#"{"slots":8}"#).is_err());
}

#[actix_rt::test]
async fn a_dropped_acquisition_never_holds_a_slot() {
    let s = Scheduler::start(config(PolicyKind::Fifo, 1)).expect("start");
    let held = s
        .acquire(SliceRequest::new(Pid::new()))
        .await
        .expect("held");
    let s2 = s.clone();
    let abandoned = actix_rt::spawn(async move { s2.acquire(SliceRequest::new(Pid::new())).await });
    scheduler_support::wait_queued(&s, 1).await;
    abandoned.abort();
    let _ = abandoned.await;
    s.release(held, Usage::default()).await.expect("release");
    let next = tokio::time::timeout(
        Duration::from_secs(5),
        s.acquire(SliceRequest::new(Pid::new())),
    )
    .await
    .expect("the abandoned request did not take the slot")
    .expect("granted");
    let st = s.stats().await.expect("stats");
    assert_eq!((st.running, st.grants), (1, 2));
    s.release(next, Usage::default()).await.expect("release");
}

#[test]
fn the_scheduler_section_loads_from_toml_through_the_config_crate() {
    let toml = r#"
        [scheduler]
        policy = "priority"
        global_slots = 8
        rr_quantum_tokens = 512
        aging_per_sec = 2.5
        min_quantum_ms = 100
        per_provider_slots = { openai = 4, anthropic = 2 }
        [scheduler.agent_quota]
        max_tokens = 100000
        max_calls = 60
        max_tokens_per_request = 8000
        window_ms = 60000
        [scheduler.global_quota]
        max_cost_usd = 25.0
    "#;
    let cfg: SchedulerConfig = config::Config::builder()
        .add_source(config::File::from_str(toml, config::FileFormat::Toml))
        .build()
        .expect("parse")
        .get("scheduler")
        .expect("scheduler section");
    cfg.validate().expect("valid");
    assert_eq!(cfg.policy, PolicyKind::Priority);
    assert_eq!(cfg.per_provider_slots["openai"], 4);
    assert_eq!(cfg.agent_quota.max_calls, Some(60));
    assert_eq!(cfg.global_quota.max_cost_usd, Some(25.0));
    assert_eq!(cfg.global_quota.window_ms, 60_000, "defaults fill the rest");
    let unknown = config::Config::builder()
        .add_source(config::File::from_str(
            "[scheduler]\nslots = 3",
            config::FileFormat::Toml,
        ))
        .build()
        .expect("parse")
        .get::<SchedulerConfig>("scheduler");
    assert!(unknown.is_err(), "unknown fields are refused");
}
