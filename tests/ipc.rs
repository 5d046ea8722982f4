//! Message passing: ordering, ask/reply, mailbox bounds, the control lane, JSON, topics.

mod common;
mod support;

use std::sync::atomic::Ordering;
use std::time::Duration;

use agent_os_kernel::MessageEnvelope;
use agent_os_kernel::prelude::*;
use support::*;

#[actix_rt::test]
async fn messages_are_handled_in_order_one_at_a_time_across_awaits() {
    let (k, _db) = kernel().await;
    let probe = Probe::new();
    let pid = k
        .spawn(ProbeAgent::factory(&probe), SpawnOptions::new("ordered"))
        .await
        .unwrap();
    // Earlier messages sleep longer: any interleaving would reorder the log.
    for id in 0..40u32 {
        let ms = u64::from(40 - id) % 7;
        pid.tell(Cmd::SleepRecord { id, ms }).await.unwrap();
    }
    let reply: Reply = pid.ask(Cmd::Log).timeout(LONG).await.unwrap();
    assert_eq!(reply.log, (0..40).collect::<Vec<_>>());
    assert_eq!(
        probe.overlaps.load(Ordering::SeqCst),
        0,
        "a second message interleaved"
    );
    k.shutdown().await;
}

#[actix_rt::test]
async fn ask_times_out_and_the_agent_keeps_working() {
    let (k, _db) = kernel().await;
    let probe = Probe::new();
    let pid = k
        .spawn(ProbeAgent::factory(&probe), SpawnOptions::new("slow"))
        .await
        .unwrap();
    let r: Result<Reply, _> = pid
        .ask(Cmd::SleepRecord { id: 1, ms: 400 })
        .timeout(Duration::from_millis(30))
        .await;
    assert!(
        matches!(r, Err(IpcError::Timeout { pid: p, .. }) if p == pid.pid()),
        "{r:?}"
    );
    // The message is still handled; the next ask sees it.
    let reply: Reply = pid.ask(Cmd::Log).timeout(LONG).await.unwrap();
    assert_eq!(reply.log, vec![1]);
    k.shutdown().await;
}

#[actix_rt::test]
async fn a_full_mailbox_rejects_with_mailbox_full_and_drops_nothing() {
    let (k, _db) = kernel().await;
    let probe = Probe::new();
    let pid = k
        .spawn(
            ProbeAgent::factory(&probe),
            SpawnOptions::new("tiny").mailbox(4),
        )
        .await
        .unwrap();
    pid.tell(Cmd::Gated(0)).await.unwrap();
    // Wait until message 0 is being handled (it left the mailbox).
    assert!(
        eventually(LONG, || k.status(pid.pid()).unwrap().state
            == AgentState::Running)
        .await
    );
    for id in 1..=4 {
        pid.tell(Cmd::Gated(id)).await.unwrap();
    }
    let r = pid.tell(Cmd::Gated(5)).await;
    assert!(
        matches!(r, Err(IpcError::MailboxFull { capacity: 4, .. })),
        "{r:?}"
    );
    assert_eq!(k.status(pid.pid()).unwrap().mailbox_len, 4);
    probe.open(5);
    // The mailbox is still full until the agent drains it: wait, don't ask.
    assert!(eventually(LONG, || probe.log().len() == 5).await);
    assert_eq!(
        probe.log(),
        vec![0, 1, 2, 3, 4],
        "every accepted message handled"
    );
    k.shutdown().await;
}

#[actix_rt::test]
async fn backpressure_makes_the_sender_wait_instead() {
    let (k, _db) = kernel().await;
    let probe = Probe::new();
    let pid = k
        .spawn(
            ProbeAgent::factory(&probe),
            SpawnOptions::new("bp")
                .mailbox(2)
                .overflow(OverflowPolicy::Backpressure),
        )
        .await
        .unwrap();
    for id in 0..20 {
        pid.tell(Cmd::SleepRecord { id, ms: 1 }).await.unwrap();
    }
    let reply: Reply = pid.ask(Cmd::Log).timeout(LONG).await.unwrap();
    assert_eq!(reply.log, (0..20).collect::<Vec<_>>());
    k.shutdown().await;
}

#[actix_rt::test]
async fn stop_overtakes_queued_messages_and_fails_them_back() {
    let (k, _db) = kernel().await;
    let probe = Probe::new();
    let pid = k
        .spawn(ProbeAgent::factory(&probe), SpawnOptions::new("s"))
        .await
        .unwrap();
    pid.tell(Cmd::Gated(0)).await.unwrap();
    assert!(
        eventually(LONG, || k.status(pid.pid()).unwrap().state
            == AgentState::Running)
        .await
    );
    let mut asks = Vec::new();
    for id in 1..=10 {
        asks.push(tokio::spawn(pid.ask(Cmd::Record(id)).timeout(LONG)));
    }
    assert!(
        eventually(LONG, || k
            .status(pid.pid())
            .map(|s| s.mailbox_len == 10)
            .unwrap_or(false))
        .await
    );
    let k2 = k.clone();
    let p = pid.pid();
    let stopping = tokio::spawn(async move { k2.stop(p).await });
    tokio::time::sleep(Duration::from_millis(20)).await;
    probe.open(1); // let the in-flight message finish
    let reason = stopping.await.unwrap().unwrap();
    assert_eq!(reason, ExitReason::Shutdown);
    assert_eq!(
        probe.log(),
        vec![0],
        "only the in-flight message was handled"
    );
    assert_eq!(probe.stops(), 1, "on_stop ran");
    for a in asks {
        assert!(matches!(a.await.unwrap(), Err(IpcError::Terminated(p)) if p == pid.pid()));
    }
    assert!(matches!(
        pid.tell(Cmd::Record(99)).await,
        Err(IpcError::NoSuchAgent(_))
    ));
    k.shutdown().await;
}

#[actix_rt::test]
async fn kill_aborts_the_running_handler_at_once() {
    let (k, _db) = kernel().await;
    let probe = Probe::new();
    let pid = k
        .spawn(ProbeAgent::factory(&probe), SpawnOptions::new("k"))
        .await
        .unwrap();
    let inflight = tokio::spawn(pid.ask(Cmd::Gated(0)).timeout(LONG));
    assert!(
        eventually(LONG, || k.status(pid.pid()).unwrap().state
            == AgentState::Running)
        .await
    );
    pid.tell(Cmd::Record(1)).await.unwrap();
    assert_eq!(k.kill(pid.pid()).await.unwrap(), ExitReason::Killed);
    let r = inflight.await.unwrap();
    assert!(
        matches!(r, Err(IpcError::Interrupted { why: "killed", .. })),
        "{r:?}"
    );
    assert!(probe.log().is_empty());
    assert_eq!(probe.stops(), 0, "on_stop does not run on kill");
    k.shutdown().await;
}

#[actix_rt::test]
async fn a_stop_deadline_aborts_a_handler_that_does_not_finish() {
    let (k, _db) = kernel().await;
    let probe = Probe::new();
    let pid = k
        .spawn(ProbeAgent::factory(&probe), SpawnOptions::new("stuck"))
        .await
        .unwrap();
    pid.tell(Cmd::Gated(0)).await.unwrap();
    assert!(
        eventually(LONG, || k.status(pid.pid()).unwrap().state
            == AgentState::Running)
        .await
    );
    let reason = k
        .stop_within(pid.pid(), Duration::from_millis(50))
        .await
        .unwrap();
    assert_eq!(reason, ExitReason::StopTimeout);
    k.shutdown().await;
}

#[actix_rt::test]
async fn typed_and_json_messages_are_checked_before_enqueueing() {
    let (k, _db) = kernel().await;
    let probe = Probe::new();
    let agent = k
        .spawn(ProbeAgent::factory(&probe), SpawnOptions::new("j"))
        .json()
        .await
        .unwrap();
    let pid = agent.pid();
    // A pid names an agent of one type: a handle of another type is refused.
    let r = k.agent_ref::<Counter>(pid);
    assert!(
        matches!(&r, Err(IpcError::WrongAgentType { actual, .. }) if actual.contains("ProbeAgent")),
        "{r:?}"
    );
    let same = k.agent_ref::<ProbeAgent>(pid).unwrap();
    assert_eq!(same, agent);
    // A topic message of another type is refused by the subscriber.
    k.subscribe(pid, "typed");
    assert_eq!(k.publish("typed", "not a Cmd".to_string()).await, 0);
    let r = k.send_json(pid, serde_json::json!({"Nope": 1})).await;
    assert!(
        matches!(&r, Err(IpcError::BadMessage { reason, .. }) if reason.contains("Nope")),
        "{r:?}"
    );
    k.send_json(pid, serde_json::json!({"Record": 7}))
        .await
        .unwrap();
    let env: MessageEnvelope = serde_json::from_value(serde_json::json!({
        "to": pid, "body": "Log", "ask": true, "timeout_ms": 5000
    }))
    .unwrap();
    let reply = k.deliver(env).await.unwrap().unwrap();
    assert_eq!(reply["log"], serde_json::json!([7]));
    let r = agent.ask(Cmd::Fail("nope".into())).timeout(SEC).await;
    assert!(
        matches!(&r, Err(IpcError::Handler { error, .. }) if matches!(&**error, AgentError::Failed(m) if m == "nope")),
        "{r:?}"
    );
    k.shutdown().await;
}

#[actix_rt::test]
async fn a_topic_delivers_once_per_subscriber() {
    let (k, _db) = kernel().await;
    let probes: Vec<_> = (0..3).map(|_| Probe::new()).collect();
    let mut pids = Vec::new();
    for (i, p) in probes.iter().enumerate() {
        pids.push(
            k.spawn(ProbeAgent::factory(p), SpawnOptions::new(format!("sub{i}")))
                .json()
                .await
                .unwrap(),
        );
    }
    for pid in &pids {
        k.subscribe(pid.pid(), "news");
    }
    k.subscribe(pids[0].pid(), "news"); // twice: still one copy
    let outsider = Probe::new();
    let opid = k
        .spawn(ProbeAgent::factory(&outsider), SpawnOptions::new("out"))
        .await
        .unwrap();
    assert_eq!(k.publish("news", Cmd::Record(5)).await, 3);
    assert_eq!(
        k.publish_json("news", serde_json::json!({"Record": 6}))
            .await,
        3
    );
    for pid in &pids {
        let reply: Reply = pid.ask(Cmd::Log).timeout(LONG).await.unwrap();
        assert_eq!(reply.log, vec![5, 6]);
    }
    assert_eq!(*probes[1].topics.lock(), vec!["news", "news"]);
    let reply: Reply = opid.ask(Cmd::Log).timeout(LONG).await.unwrap();
    assert!(reply.log.is_empty());
    // A terminated subscriber leaves the topic.
    k.stop(pids[2].pid()).await.unwrap();
    assert_eq!(k.publish("news", Cmd::Record(8)).await, 2);
    k.shutdown().await;
}

#[actix_rt::test]
async fn agent_to_agent_messages_carry_the_sender() {
    use agent_os_kernel::prelude::AgentContext;
    struct Relay {
        target: AgentRef<ProbeAgent>,
    }
    impl Agent for Relay {
        type Msg = ();
        type Reply = Option<Pid>;
        async fn handle(
            &mut self,
            _: (),
            _ctx: &mut AgentContext,
        ) -> Result<Option<Pid>, AgentError> {
            let r: Reply = self.target.ask(Cmd::WhoSent).timeout(SEC).await?;
            Ok(r.sender)
        }
    }
    let (k, _db) = kernel().await;
    let probe = Probe::new();
    let target = k
        .spawn(ProbeAgent::factory(&probe), SpawnOptions::new("t"))
        .await
        .unwrap();
    let relay = k
        .spawn(
            {
                let target = target.clone();
                move || Relay {
                    target: target.clone(),
                }
            },
            SpawnOptions::new("relay"),
        )
        .await
        .unwrap();
    let seen: Option<Pid> = relay.ask(()).timeout(LONG).await.unwrap();
    assert_eq!(seen, Some(relay.pid()));
    let direct: Reply = target.ask(Cmd::WhoSent).timeout(LONG).await.unwrap();
    assert_eq!(direct.sender, None);
    k.shutdown().await;
}

#[derive(Default)]
struct Counter(u64);

impl Agent for Counter {
    type Msg = u64;
    type Reply = u64;
    async fn handle(&mut self, n: u64, _: &mut AgentContext) -> Result<u64, AgentError> {
        self.0 += n;
        Ok(self.0)
    }
    fn snapshot(&self) -> Result<Option<serde_json::Value>, AgentError> {
        Ok(Some(serde_json::json!({ "total": self.0 })))
    }
}

#[actix_rt::test]
async fn status_list_and_snapshot() {
    let (k, _db) = kernel().await;
    let a = k
        .spawn(Counter::default, SpawnOptions::new("a").priority(5))
        .await
        .unwrap();
    let b = k
        .spawn(Counter::default, SpawnOptions::new("b"))
        .await
        .unwrap();
    a.tell(2u64).await.unwrap();
    let total: u64 = a.ask(3u64).timeout(LONG).await.unwrap();
    assert_eq!(total, 5);
    // A snapshot is a control-lane request: taken between messages, after the handled ones.
    assert_eq!(
        k.snapshot(a.pid()).await.unwrap(),
        Some(serde_json::json!({"total": 5}))
    );
    let list = k.list();
    assert_eq!(
        list.iter().map(|i| i.pid).collect::<Vec<_>>(),
        vec![a.pid(), b.pid()]
    );
    assert_eq!(list[0].priority, 5);
    assert_eq!(list[0].handled, 2);
    assert!(matches!(
        k.spawn(Counter::default, SpawnOptions::new("bad").priority(101))
            .await,
        Err(SpawnError::InvalidPriority(101))
    ));
    k.shutdown().await;
}
