//! The pager on real storage (the backend `AOK_TEST_BACKEND` names): replacement, pinned
//! pages, overflow, faults (also after a restart), recall, isolation, pressure, compaction,
//! prefix stability.

mod common;
mod support;

use std::sync::Arc;

use agent_os_kernel::embed::LexicalEmbedder;
use agent_os_kernel::pager::{NewPage, PageKind, Pager, PagerConfig, PagerError};
use agent_os_kernel::provider::Message;
use agent_os_kernel::storage::Storage;
use agent_os_kernel::{KernelConfig, Pid};
use common::{backend_from_env, test_storage};

fn config(budget: u64) -> PagerConfig {
    let mut c = KernelConfig::default().pager;
    c.window_tokens = budget + 100;
    c.reserve_output_tokens = 100;
    c.page_tokens = 64;
    c
}

fn pager(storage: &Storage, cfg: PagerConfig) -> Pager {
    Pager::new(cfg, storage.clone(), Arc::new(LexicalEmbedder::new(384)))
}

/// About `n` tokens of distinct text.
fn text(tag: &str, n: usize) -> String {
    (0..n).map(|i| format!("{tag}{i} ")).collect::<String>()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overflow_evicts_the_lowest_score_and_pinned_pages_never_leave() {
    let (storage, _g) = test_storage(backend_from_env()).await;
    let mut cfg = config(400);
    cfg.low_water = 0.8;
    let p = pager(&storage, cfg);
    let pid = Pid::new();
    let sys = p
        .allocate(pid, NewPage::new(PageKind::System, "You are terse."))
        .await
        .unwrap();
    let low = p
        .allocate(
            pid,
            NewPage::new(PageKind::Message, text("low", 40)).importance(0.0),
        )
        .await
        .unwrap();
    let high = p
        .allocate(
            pid,
            NewPage::new(PageKind::Message, text("high", 40)).importance(1.0),
        )
        .await
        .unwrap();
    // Newer, ordinary pages until the first eviction batch.
    for i in 0..10 {
        p.allocate(
            pid,
            NewPage::new(PageKind::Message, text(&format!("m{i}x"), 40)),
        )
        .await
        .unwrap();
        if p.stats(pid).await.unwrap().evictions > 0 {
            break;
        }
    }
    let stats = p.stats(pid).await.unwrap();
    assert!(stats.resident_tokens <= 400, "{stats:?}");
    assert!(stats.evictions > 0, "{stats:?}");
    let pages = p.pages(pid).await.unwrap();
    let find = |id| pages.iter().find(|x| x.id == id).unwrap().clone();
    assert!(find(sys[0]).resident, "pinned page left");
    assert!(
        !find(low[0]).resident,
        "the low-importance old page should go first"
    );
    assert!(
        find(high[0]).resident,
        "the important page should stay: {pages:#?}"
    );
    assert_eq!(
        stats.resident_pages + stats.swapped_pages,
        pages.len() as u64,
        "every page is resident or swapped"
    );
    // Batches: evicted down to the low-water mark, not one page per call.
    assert!(stats.eviction_batches < stats.evictions, "{stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_pinned_over_budget_is_context_overflow() {
    let (storage, _g) = test_storage(backend_from_env()).await;
    let p = pager(&storage, config(100));
    let pid = Pid::new();
    p.allocate(pid, NewPage::new(PageKind::System, text("sys", 30)))
        .await
        .unwrap();
    let err = p
        .allocate(pid, NewPage::new(PageKind::Tools, text("tool", 30)))
        .await
        .unwrap_err();
    assert!(
        matches!(err, PagerError::ContextOverflow { budget: 100, .. }),
        "{err:?}"
    );
    // Nothing was stored for the refused allocation, the context still assembles.
    assert_eq!(p.pages(pid).await.unwrap().len(), 1);
    let ctx = p.context(pid, None).await.unwrap();
    assert_eq!(ctx.messages.len(), 1);
    // A budget below the pinned pages is refused too.
    let err = p.set_budget(pid, 10).await.unwrap_err();
    assert!(matches!(err, PagerError::ContextOverflow { .. }), "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_swapped_page_faults_back_byte_identical_also_after_a_restart() {
    let (storage, guard) = test_storage(backend_from_env()).await;
    let pid = Pid::new();
    let odd = "ünïcödé ✓ 日本語\n\ttabs  and  spaces \u{1F600} ".repeat(3);
    let id = {
        let p = pager(&storage, config(200));
        let id = p
            .allocate(
                pid,
                NewPage::new(PageKind::Message, odd.clone()).importance(0.0),
            )
            .await
            .unwrap();
        for i in 0..8 {
            p.allocate(
                pid,
                NewPage::new(PageKind::Message, text(&format!("f{i}y"), 40)),
            )
            .await
            .unwrap();
        }
        let info = p.pages(pid).await.unwrap();
        assert!(!info.iter().find(|x| x.id == id[0]).unwrap().resident);
        let page = p.read(pid, id[0]).await.unwrap();
        assert_eq!(&*page.content, odd.as_str());
        assert_eq!(p.stats(pid).await.unwrap().faults, 1);
        // Evict it again before "the process dies".
        for i in 0..8 {
            p.allocate(
                pid,
                NewPage::new(PageKind::Message, text(&format!("g{i}z"), 40)),
            )
            .await
            .unwrap();
        }
        id
    };
    drop(storage);
    // A new process: a fresh connection and a fresh pager over the same database.
    let storage = Storage::connect(&guard.url()).await.unwrap();
    let p = pager(&storage, config(200));
    let pages = p.pages(pid).await.unwrap();
    assert!(!pages.is_empty());
    let page = p.read(pid, id[0]).await.unwrap();
    assert_eq!(&*page.content, odd.as_str());
    assert!(p.stats(pid).await.unwrap().faults >= 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recall_returns_the_most_similar_page_first() {
    let (storage, _g) = test_storage(backend_from_env()).await;
    let p = pager(&storage, config(150));
    let pid = Pid::new();
    let topics = [
        "the invoice for the kitchen renovation was paid in march",
        "our cat likes to sleep on the warm laptop keyboard",
        "the rocket engine test fired for ninety seconds",
        "grandmother's recipe uses cardamom and brown butter",
    ];
    for t in topics {
        p.allocate(pid, NewPage::new(PageKind::Message, t))
            .await
            .unwrap();
        p.allocate(pid, NewPage::new(PageKind::Message, text("filler", 60)))
            .await
            .unwrap();
    }
    let hits = p.recall(pid, "rocket engine fired", 3).await.unwrap();
    assert_eq!(hits[0].content, topics[2], "{hits:?}");
    assert!(hits[0].similarity >= hits[1].similarity);
    // Memories are recalled too.
    p.remember(pid, "the wifi password is written under the router", 0.9)
        .await
        .unwrap();
    let hits = p.recall(pid, "wifi password router", 1).await.unwrap();
    assert!(hits[0].memory_id.is_some(), "{hits:?}");
    // context(query) faults the similar swapped page in.
    let ctx = p
        .context(pid, Some("invoice kitchen renovation paid"))
        .await
        .unwrap();
    assert!(
        ctx.messages.iter().any(|m| m.content == topics[0]),
        "{:?}",
        ctx.messages
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_agents_page_is_unreadable_unless_shared() {
    let (storage, _g) = test_storage(backend_from_env()).await;
    let p = pager(&storage, config(1000));
    let (alice, bob) = (Pid::new(), Pid::new());
    let id = p
        .allocate(
            alice,
            NewPage::new(PageKind::Message, "alice's secret plan"),
        )
        .await
        .unwrap()[0];
    let err = p.read(bob, id).await.unwrap_err();
    assert!(
        matches!(err, PagerError::AccessDenied { action: "read", .. }),
        "{err:?}"
    );
    // Only the owner may share.
    assert!(matches!(
        p.share(bob, id, bob).await.unwrap_err(),
        PagerError::AccessDenied { .. }
    ));
    p.share(alice, id, bob).await.unwrap();
    assert_eq!(
        &*p.read(bob, id).await.unwrap().content,
        "alice's secret plan"
    );
    // Read-only: bob cannot free it.
    assert!(matches!(
        p.free(bob, id).await.unwrap_err(),
        PagerError::AccessDenied { action: "free", .. }
    ));
    p.unshare(alice, id, bob).await.unwrap();
    assert!(p.read(bob, id).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_prompt_prefix_stays_byte_identical_between_evictions() {
    let (storage, _g) = test_storage(backend_from_env()).await;
    let p = pager(&storage, config(600));
    let pid = Pid::new();
    p.allocate(pid, NewPage::new(PageKind::System, "system prompt"))
        .await
        .unwrap();
    let mut previous: Option<Vec<Message>> = None;
    let mut changes = 0;
    for turn in 0..40 {
        let before = p.stats(pid).await.unwrap().evictions;
        p.append(pid, &Message::user(text(&format!("u{turn}q"), 20)))
            .await
            .unwrap();
        let ctx = p.context(pid, None).await.unwrap();
        assert_eq!(ctx.messages[0].content, "system prompt");
        let evicted = p.stats(pid).await.unwrap().evictions > before;
        if let Some(prev) = &previous {
            if !evicted {
                assert_eq!(&ctx.messages[..prev.len()], &prev[..], "turn {turn}");
                assert!(ctx.prefix_stability > 0.5, "{}", ctx.prefix_stability);
            } else {
                changes += 1;
            }
        }
        previous = Some(ctx.messages);
    }
    let stats = p.stats(pid).await.unwrap();
    assert!(
        (1..=10).contains(&changes),
        "{changes} prefix changes in 40 turns"
    );
    assert!(stats.mean_prefix_stability > 0.6, "{stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tool_calls_stay_with_their_results() {
    let (storage, _g) = test_storage(backend_from_env()).await;
    let p = pager(&storage, config(300));
    let pid = Pid::new();
    let mut call = Message::assistant("");
    call.tool_calls.push(agent_os_kernel::provider::ToolCall {
        id: "call_1".into(),
        name: "lookup".into(),
        arguments: "{}".into(),
    });
    p.append(pid, &call).await.unwrap();
    p.append(pid, &Message::tool_result("call_1", text("result", 30)))
        .await
        .unwrap();
    for i in 0..10 {
        p.append(pid, &Message::user(text(&format!("t{i}w"), 30)))
            .await
            .unwrap();
        let ctx = p.context(pid, None).await.unwrap();
        let has_call = ctx.messages.iter().any(|m| !m.tool_calls.is_empty());
        let has_result = ctx.messages.iter().any(|m| m.tool_call_id.is_some());
        assert_eq!(has_call, has_result, "a call without its result or back");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_content_is_split_at_token_boundaries() {
    let (storage, _g) = test_storage(backend_from_env()).await;
    let p = pager(&storage, config(10_000));
    let pid = Pid::new();
    let long = "Grüße aus Köln — ".repeat(200);
    let ids = p
        .allocate(pid, NewPage::new(PageKind::Task, long.clone()))
        .await
        .unwrap();
    assert!(ids.len() > 3);
    let pages = p.pages(pid).await.unwrap();
    assert!(pages.iter().all(|x| x.tokens <= 66));
    let ctx = p.context(pid, None).await.unwrap();
    assert_eq!(ctx.messages.len(), 1, "one entry is one message");
    assert_eq!(ctx.messages[0].content, long);
    // Identical content is stored once.
    let before = blobs(&storage).await;
    p.allocate(pid, NewPage::new(PageKind::Task, long))
        .await
        .unwrap();
    assert_eq!(blobs(&storage).await, before);
}

async fn blobs(storage: &Storage) -> i64 {
    use sea_orm::{ConnectionTrait, Statement};
    let backend = match storage.backend() {
        agent_os_kernel::storage::Backend::Sqlite => sea_orm::DbBackend::Sqlite,
        agent_os_kernel::storage::Backend::Postgres => sea_orm::DbBackend::Postgres,
    };
    let row = storage
        .connection()
        .query_one_raw(Statement::from_string(
            backend,
            "SELECT COUNT(*) AS n FROM page_blobs",
        ))
        .await
        .unwrap()
        .unwrap();
    row.try_get::<i64>("", "n").unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_a_typed_error() {
    let (storage, _g) = test_storage(backend_from_env()).await;
    let p = pager(&storage, config(1000));
    let pid = Pid::new();
    let err = p
        .allocate(pid, NewPage::new(PageKind::Message, "x").importance(1.5))
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        PagerError::Invalid {
            what: "importance",
            ..
        }
    ));
    assert!(matches!(
        p.read(pid, "0190f3a4-7c1e-7000-8000-000000000000".parse().unwrap())
            .await
            .unwrap_err(),
        PagerError::NoSuchPage(_)
    ));
    assert!(p.set_budget(pid, 0).await.is_err());
    // A caller's k is not an allocation size.
    p.allocate(pid, NewPage::new(PageKind::Message, "one entry"))
        .await
        .unwrap();
    let hits = p.recall(pid, "entry", usize::MAX).await.unwrap();
    assert_eq!(hits.len(), 1);
}
