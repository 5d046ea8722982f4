//! Durable mailboxes, checkpoint policies and runaway limits, on SQLite and PostgreSQL:
//! producer delivery ids, poison messages, every-N and interval policies, write-behind order,
//! and each runaway limit (a restart does not re-enter the loop).

mod common;
mod durability_support;
mod support;

use std::sync::atomic::Ordering;
use std::time::Duration;

use agent_os_kernel::prelude::*;
use agent_os_kernel::{KernelEvent, WriteMode};
use durability_support::*;
use support::eventually;

#[actix_rt::test]
async fn runaway_steps_end_the_task_and_a_restart_does_not_reenter_it() {
    let (storage, _g) = common::test_storage(common::backend_from_env()).await;
    let hooks = Hooks::default();
    let k = kernel_on(&storage, config(None), &hooks).await;
    let mut events = k.events();
    let limits = RunawayLimits {
        max_steps_per_task: 5,
        ..RunawayLimits::unlimited()
    };
    let ledger = k
        .spawn_durable::<Ledger>("ledger", SpawnOptions::new("looper").limits(limits))
        .await
        .unwrap();
    let pid = ledger.pid();
    ledger.tell(Job::Loop).await.unwrap();
    assert!(
        eventually(LONG, || matches!(events.try_recv(), Ok(KernelEvent::RunawayStopped { pid: p, limit: RunawayLimit::Steps { limit: 5 } }) if p == pid)).await
    );
    let steps = k.checkpoints(pid).await.unwrap().last().unwrap().step;
    k.shutdown().await;
    let k2 = kernel_on(&storage, config(None), &hooks).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let after = k2.checkpoints(pid).await.unwrap().last().unwrap().step;
    assert!(
        after <= steps + 1,
        "the loop was not re-entered: {steps} → {after}"
    );
    k2.shutdown().await;
}

#[actix_rt::test]
async fn consecutive_llm_failures_and_wall_time_end_the_task() {
    let (url, served) = server().await;
    let (storage, _g) = common::test_storage(common::backend_from_env()).await;
    let hooks = Hooks::default();
    let k = kernel_on(&storage, config(Some(url)), &hooks).await;
    let limits = RunawayLimits {
        max_consecutive_llm_failures: 3,
        ..RunawayLimits::unlimited()
    };
    let failing = k
        .spawn_durable::<Ledger>("ledger", SpawnOptions::new("failing").limits(limits))
        .await
        .unwrap();
    let err = failing.ask(Job::Fail).await.unwrap_err();
    assert!(
        err.to_string().contains("3 LLM calls failed in a row"),
        "{err}"
    );
    assert_eq!(served.load(Ordering::SeqCst), 3, "no call after the limit");

    let limits = RunawayLimits {
        max_task_wall_ms: 100,
        ..RunawayLimits::unlimited()
    };
    let mut events = k.events();
    let slow = k
        .spawn_durable::<Ledger>("ledger", SpawnOptions::new("slow").limits(limits))
        .await
        .unwrap();
    slow.tell(Job::Loop).await.unwrap();
    assert!(
        eventually(LONG, || matches!(
            events.try_recv(),
            Ok(KernelEvent::RunawayStopped {
                limit: RunawayLimit::WallTime { limit_ms: 100 },
                ..
            })
        ))
        .await
    );
    k.shutdown().await;
}

#[actix_rt::test]
async fn a_producer_delivery_id_is_handled_once() {
    let (storage, _g) = common::test_storage(common::backend_from_env()).await;
    let hooks = Hooks::default();
    let k = kernel_on(&storage, config(None), &hooks).await;
    let ledger = k
        .spawn_durable::<Ledger>("ledger", SpawnOptions::new("ledger"))
        .await
        .unwrap();
    let pid = ledger.pid();
    let body = serde_json::json!({"Do": 5});
    assert!(
        k.send_json_once(pid, "order-5", body.clone())
            .await
            .unwrap()
    );
    assert!(
        !k.send_json_once(pid, "order-5", body).await.unwrap(),
        "a duplicate"
    );
    assert!(ledger.tell_once("order-6", Job::Do(6)).await.unwrap());
    assert!(!ledger.tell_once("order-6", Job::Do(6)).await.unwrap());
    assert!(reaches(&ledger, &[5, 6]).await);
    // Still a duplicate once handled and acknowledged.
    assert!(!ledger.tell_once("order-6", Job::Do(6)).await.unwrap());
    // A path that cannot wait for the write is refused, not silently non-durable.
    assert!(matches!(
        ledger.try_tell(Job::Get),
        Err(IpcError::Durable { .. })
    ));
    // An agent without a durable mailbox has no delivery ids.
    let plain = k
        .spawn(Ledger::default, SpawnOptions::new("plain"))
        .json()
        .await
        .unwrap();
    let err = k
        .send_json_once(plain.pid(), "x", serde_json::json!("Get"))
        .await
        .unwrap_err();
    assert!(matches!(err, IpcError::Durable { .. }), "{err}");
    k.shutdown().await;
}

#[actix_rt::test]
async fn a_message_that_always_crashes_is_set_aside_and_the_agent_goes_on() {
    let (storage, _g) = common::test_storage(common::backend_from_env()).await;
    let hooks = Hooks::default();
    let k = kernel_on(&storage, config(None), &hooks).await;
    let mut events = k.events();
    let ledger = k
        .spawn_durable::<Ledger>("ledger", SpawnOptions::new("ledger"))
        .await
        .unwrap();
    let pid = ledger.pid();
    ledger.ask(Job::Do(1)).await.unwrap();
    ledger.tell(Job::Poison).await.unwrap();
    ledger.tell(Job::Do(2)).await.unwrap();
    assert!(
        eventually(
            LONG,
            || matches!(events.try_recv(), Ok(KernelEvent::DeadLetter { pid: p, .. }) if p == pid)
        )
        .await,
        "dead-lettered after max_deliveries crashed steps"
    );
    assert!(
        reaches(&ledger, &[1, 2]).await,
        "the agent went on with the next message"
    );
    k.shutdown().await;
}

#[actix_rt::test]
async fn write_behind_checkpoints_land_in_order_and_restart_from_them() {
    let (storage, _g) = common::test_storage(common::backend_from_env()).await;
    let hooks = Hooks::default();
    let k = kernel_on(&storage, config(None), &hooks).await;
    let mut events = k.events();
    let ledger = k
        .spawn_durable::<Ledger>(
            "ledger",
            SpawnOptions::new("behind").write_mode(WriteMode::Behind),
        )
        .await
        .unwrap();
    let pid = ledger.pid();
    for n in 1..=5 {
        ledger.ask(Job::Do(n)).await.unwrap();
    }
    k.flush_checkpoints().await;
    let cps = k.checkpoints(pid).await.unwrap();
    assert_eq!(cps.len(), 5, "one per step, all committed after a flush");
    for pair in cps.windows(2) {
        assert_eq!(
            pair[1].parent.as_deref(),
            Some(pair[0].id.as_str()),
            "in order"
        );
    }
    *hooks.crash_on.lock().unwrap() = Some(6);
    let _ = ledger.ask(Job::Do(6)).await;
    assert!(
        eventually(
            LONG,
            || matches!(events.try_recv(), Ok(KernelEvent::Restored { pid: p, .. }) if p == pid)
        )
        .await
    );
    assert!(reaches(&ledger, &[1, 2, 3, 4, 5, 6]).await);
    k.shutdown().await;
}

#[actix_rt::test]
async fn every_n_steps_and_interval_policies_checkpoint_as_configured() {
    let (storage, _g) = common::test_storage(common::backend_from_env()).await;
    let hooks = Hooks::default();
    let k = kernel_on(&storage, config(None), &hooks).await;
    let every3 = k
        .spawn_durable::<Ledger>(
            "ledger",
            SpawnOptions::new("every3").checkpoint(CheckpointPolicy::EverySteps(3)),
        )
        .await
        .unwrap();
    for n in 1..=7 {
        every3.ask(Job::Do(n)).await.unwrap();
    }
    let steps: Vec<u64> = k
        .checkpoints(every3.pid())
        .await
        .unwrap()
        .iter()
        .map(|c| c.step)
        .collect();
    assert_eq!(steps, vec![3, 6]);

    let timed = k
        .spawn_durable::<Ledger>(
            "ledger",
            SpawnOptions::new("timed").checkpoint(CheckpointPolicy::IntervalMs(150)),
        )
        .await
        .unwrap();
    for n in 1..=3 {
        timed.ask(Job::Do(n)).await.unwrap();
    }
    let early = k.checkpoints(timed.pid()).await.unwrap().len();
    tokio::time::sleep(Duration::from_millis(200)).await;
    timed.ask(Job::Do(4)).await.unwrap();
    let later = k.checkpoints(timed.pid()).await.unwrap();
    assert!(early <= 1, "not every step: {early}");
    assert_eq!(
        later.last().unwrap().step,
        4,
        "the first step after the interval"
    );

    // An invalid policy is refused at spawn, naming the problem.
    let err = k
        .spawn_durable::<Ledger>(
            "ledger",
            SpawnOptions::new("bad").checkpoint(CheckpointPolicy::EverySteps(0)),
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("every_steps"), "{err}");
    k.shutdown().await;
}
