//! Durability through the public API, on SQLite and PostgreSQL (`AOK_TEST_BACKEND`):
//! crash-restart from the last checkpoint under the same pid, the journal answering a replayed
//! step (the in-test provider counts no extra call), restore and fork, a corrupted checkpoint
//! refused, retention that frees storage, resume after a kernel restart with durable messages
//! redelivered. Mailboxes, policies and limits: `durability_mailbox.rs`.

mod common;
mod durability_support;
mod support;

use std::sync::atomic::Ordering;
use std::time::Duration;

use agent_os_kernel::KernelEvent;
use agent_os_kernel::prelude::*;
use durability_support::*;
use sea_orm::{ConnectionTrait, Statement};
use support::eventually;

#[actix_rt::test]
async fn a_panic_restarts_from_the_last_checkpoint_with_the_same_pid_and_state() {
    let (storage, _g) = common::test_storage(common::backend_from_env()).await;
    let hooks = Hooks::default();
    let k = kernel_on(&storage, config(None), &hooks).await;
    let mut events = k.events();
    let ledger = k
        .spawn_durable::<Ledger>("ledger", SpawnOptions::new("ledger"))
        .await
        .unwrap();
    let pid = ledger.pid();
    assert_eq!(ledger.ask(Job::Do(1)).await.unwrap(), vec![1]);
    assert_eq!(ledger.ask(Job::Do(2)).await.unwrap(), vec![1, 2]);
    *hooks.crash_on.lock().unwrap() = Some(3);
    // The asker sees the crash; the durable message is redelivered to the restarted agent.
    assert!(matches!(
        ledger.ask(Job::Do(3)).await,
        Err(IpcError::Crashed { .. })
    ));
    assert!(
        eventually(LONG, || matches!(events.try_recv(), Ok(KernelEvent::Restored { pid: p, redelivered: 1, .. }) if p == pid)).await,
        "restored from its checkpoint with the crashed message redelivered"
    );
    assert_eq!(ledger.ask(Job::Get).await.unwrap(), vec![1, 2, 3]);
    assert_eq!(ledger.pid(), pid, "same pid");
    // One page per job: the page the crashed step added was rolled back with it.
    let pages = k.pager().pages(pid).await.unwrap();
    assert_eq!(pages.len(), 3, "{pages:?}");
    // The side effect of job 3 ran once: the replayed step was answered from the journal.
    assert_eq!(hooks.effects.load(Ordering::SeqCst), 3);
    let cps = k.checkpoints(pid).await.unwrap();
    assert!(cps.len() >= 4, "one per step: {cps:?}");
    assert_eq!(cps.last().unwrap().step, cps.len() as u64);
    k.shutdown().await;
}

#[actix_rt::test]
async fn the_journal_answers_a_replayed_step_without_calling_the_model_again() {
    let (url, served) = server().await;
    let (storage, _g) = common::test_storage(common::backend_from_env()).await;
    let hooks = Hooks::default();
    hooks.llm.store(true, Ordering::SeqCst);
    let k = kernel_on(&storage, config(Some(url)), &hooks).await;
    let ledger = k
        .spawn_durable::<Ledger>("ledger", SpawnOptions::new("ledger"))
        .await
        .unwrap();
    ledger.ask(Job::Do(1)).await.unwrap();
    assert_eq!(served.load(Ordering::SeqCst), 1);
    *hooks.crash_on.lock().unwrap() = Some(2);
    let _ = ledger.ask(Job::Do(2)).await;
    assert_eq!(served.load(Ordering::SeqCst), 2);
    assert!(eventually(LONG, || hooks.crash_on.lock().unwrap().is_none()).await);
    assert!(reaches(&ledger, &[1, 2]).await);
    assert_eq!(
        served.load(Ordering::SeqCst),
        2,
        "0 extra calls: the replay was answered from the journal"
    );
    assert_eq!(
        hooks.effects.load(Ordering::SeqCst),
        2,
        "the side effect ran once per job"
    );
    let usage = k.providers().ledger.agent_totals(ledger.pid());
    assert_eq!(usage.calls, 2, "billed once per job");
    let carried = k.agent_usage(ledger.pid()).unwrap();
    assert_eq!(
        carried.calls, 2,
        "the checkpointed usage counts each call once: {carried:?}"
    );
    assert_eq!(carried.input_tokens, 20);
    k.shutdown().await;
}

#[actix_rt::test]
async fn restore_and_fork_a_checkpoint() {
    let (storage, _g) = common::test_storage(common::backend_from_env()).await;
    let hooks = Hooks::default();
    let k = kernel_on(&storage, config(None), &hooks).await;
    let ledger = k
        .spawn_durable::<Ledger>(
            "ledger",
            SpawnOptions::new("ledger").checkpoint(CheckpointPolicy::Manual),
        )
        .await
        .unwrap();
    ledger.ask(Job::Do(1)).await.unwrap();
    ledger.ask(Job::Do(2)).await.unwrap();
    let cp = k.checkpoint(ledger.pid()).await.unwrap();
    assert_eq!(cp.step, 2);
    assert_eq!(cp.kind, "full");
    ledger.ask(Job::Do(3)).await.unwrap();
    assert_eq!(k.pager().pages(ledger.pid()).await.unwrap().len(), 3);

    // Restore in place: the state and the pages go back to step 2.
    assert_eq!(k.restore_checkpoint(&cp.id).await.unwrap(), ledger.pid());
    assert_eq!(ledger.ask(Job::Get).await.unwrap(), vec![1, 2]);
    assert_eq!(k.pager().pages(ledger.pid()).await.unwrap().len(), 2);

    // Fork: a new agent from the same checkpoint; the original is unaffected.
    ledger.ask(Job::Do(4)).await.unwrap();
    let fork = k.fork_checkpoint(&cp.id, Some("fork")).await.unwrap();
    assert_ne!(fork, ledger.pid());
    let fork_ref = k.agent_ref::<Ledger>(fork).unwrap();
    assert_eq!(fork_ref.ask(Job::Get).await.unwrap(), vec![1, 2]);
    assert_eq!(k.pager().pages(fork).await.unwrap().len(), 2);
    assert_eq!(ledger.ask(Job::Get).await.unwrap(), vec![1, 2, 4]);

    // Restore into a stopped agent: it comes back under its pid.
    let pid = ledger.pid();
    k.stop(pid).await.unwrap();
    assert_eq!(k.restore_checkpoint(&cp.id).await.unwrap(), pid);
    let back = k.agent_ref::<Ledger>(pid).unwrap();
    assert_eq!(back.ask(Job::Get).await.unwrap(), vec![1, 2]);
    k.shutdown().await;
}

#[actix_rt::test]
async fn a_corrupted_checkpoint_is_refused_with_a_clear_error() {
    let (storage, _g) = common::test_storage(common::backend_from_env()).await;
    let hooks = Hooks::default();
    let k = kernel_on(&storage, config(None), &hooks).await;
    let ledger = k
        .spawn_durable::<Ledger>("ledger", SpawnOptions::new("ledger"))
        .await
        .unwrap();
    ledger.ask(Job::Do(7)).await.unwrap();
    let cp = k.checkpoints(ledger.pid()).await.unwrap().pop().unwrap();
    let sql = format!(
        "UPDATE checkpoints SET checksum = '{}' WHERE id = '{}'",
        "0".repeat(64),
        cp.id
    );
    storage
        .connection()
        .execute_raw(Statement::from_string(
            storage.connection().get_database_backend(),
            sql,
        ))
        .await
        .unwrap();
    let err = k.restore_checkpoint(&cp.id).await.unwrap_err();
    assert!(
        matches!(&err, CheckpointError::Corrupt { id, .. } if *id == cp.id),
        "{err}"
    );
    assert!(err.to_string().contains("corrupt"), "{err}");
    // Nothing was restored: the agent still has its state.
    assert_eq!(ledger.ask(Job::Get).await.unwrap(), vec![7]);
    k.shutdown().await;
}

#[actix_rt::test]
async fn retention_deletes_old_checkpoints_and_frees_their_blobs() {
    let (storage, _g) = common::test_storage(common::backend_from_env()).await;
    let hooks = Hooks::default();
    let mut cfg = config(None);
    cfg.durability.keep_last = 2;
    cfg.durability.full_every = 3;
    let k = kernel_on(&storage, cfg, &hooks).await;
    let ledger = k
        .spawn_durable::<Ledger>("ledger", SpawnOptions::new("ledger"))
        .await
        .unwrap();
    for n in 0..12 {
        ledger.ask(Job::Do(n)).await.unwrap();
    }
    // Free every page but the last: their blobs are now held only by old checkpoints.
    let pages = k.pager().pages(ledger.pid()).await.unwrap();
    for p in &pages[..pages.len() - 1] {
        k.pager().free(ledger.pid(), p.id).await.unwrap();
    }
    let freed: Vec<String> = pages[..pages.len() - 1]
        .iter()
        .map(|p| format!("'{}'", p.hash))
        .collect();
    let held = format!(
        "SELECT COUNT(*) AS n FROM page_blobs WHERE hash IN ({})",
        freed.join(", ")
    );
    assert_eq!(
        count(&storage, &held).await,
        11,
        "kept while checkpoints hold them"
    );
    // Later checkpoints no longer hold them; the old ones go by retention.
    for n in 100..106 {
        ledger.ask(Job::Do(n)).await.unwrap();
    }
    // Retention also runs on its own after full checkpoints; this pass finishes the job.
    let report = k.collect_garbage(ledger.pid()).await.unwrap();
    let left = k.checkpoints(ledger.pid()).await.unwrap();
    // The last 2, and the chain back to the full base the older of them needs.
    let base = left
        .iter()
        .rposition(|c| c.kind == "full" && c.sequence <= left[left.len() - 2].sequence);
    let base = base.expect("a full base under the kept deltas");
    assert_eq!(
        left.len(),
        left.len() - base,
        "nothing older than that base is kept: {left:?}"
    );
    assert!(left.len() < 18, "old checkpoints were deleted: {left:?}");
    assert_eq!(left.last().unwrap().step, 18);
    assert_eq!(count(&storage, &held).await, 0, "freed: {report:?}");
    // What is left still restores.
    let newest = left.last().unwrap().id.clone();
    k.restore_checkpoint(&newest).await.unwrap();
    assert_eq!(ledger.ask(Job::Get).await.unwrap().len(), 18);
    k.shutdown().await;
}

#[actix_rt::test]
async fn a_kernel_restart_resumes_durable_agents_and_redelivers_their_messages() {
    let (storage, _g) = common::test_storage(common::backend_from_env()).await;
    let hooks = Hooks::default();
    let k = kernel_on(&storage, config(None), &hooks).await;
    let ledger = k
        .spawn_durable::<Ledger>("ledger", SpawnOptions::new("ledger"))
        .await
        .unwrap();
    let pid = ledger.pid();
    ledger.ask(Job::Do(1)).await.unwrap();
    // A message persisted but not handled yet (the agent is mid-way through a slow one).
    k.shutdown().await;

    let k2 = kernel_on(&storage, config(None), &hooks).await;
    let back = k2.agent_ref::<Ledger>(pid).expect("resumed under its pid");
    assert_eq!(back.ask(Job::Get).await.unwrap(), vec![1]);
    back.tell(Job::Do(2)).await.unwrap();
    // Persisted before tell returned: drop the kernel without letting it handle anything
    // more than it may have, then resume again.
    k2.shutdown().await;
    let k3 = kernel_on(&storage, config(None), &hooks).await;
    let again = k3.agent_ref::<Ledger>(pid).unwrap();
    assert!(reaches(&again, &[1, 2]).await);
    // Stopped for good: not resumed by the next start.
    k3.stop(pid).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    k3.shutdown().await;
    let k4 = kernel_on(&storage, config(None), &hooks).await;
    assert!(k4.agent_ref::<Ledger>(pid).is_err());
    k4.shutdown().await;
}
