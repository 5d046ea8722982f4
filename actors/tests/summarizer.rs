//! `Summarizer`: a conversation grown past the pressure threshold of a small context budget is
//! summarised through the LLM (an in-test OpenAI-shaped server) into a `summary` page, and
//! the summarised pages are freed.

mod support;

use agent_os_actors::{SUMMARY_INSTRUCTION, Summarizer, SummarizerMsg};
use agent_os_kernel::SpawnOptions;
use agent_os_kernel::pager::PageKind;
use agent_os_kernel::provider::Role;
use serde_json::Value;
use support::{config, eventually, kernel_with, openai_server, text};

#[actix_rt::test]
async fn memory_pressure_leaves_a_summary_page() {
    let (url, seen) = openai_server(|_| text("SUMMARY: the user listed facts 0 to 3.")).await;
    let root = tempfile::tempdir().unwrap();
    let (k, _db) = kernel_with(config(&url, root.path())).await;
    let s = k
        .spawn(
            Summarizer::new("test-model").max_tokens(64).factory(),
            SpawnOptions::new("summarizer").context_budget(400),
        )
        .await
        .unwrap();
    for i in 0..12 {
        let text = format!(
            "Fact number {i}: the warehouse in district {i} holds {} crates of apples, \
             inspected on day {i} by the night shift, with nothing unusual to report.",
            i * 17
        );
        let resident = s
            .ask(SummarizerMsg::Note {
                role: Role::User,
                text,
            })
            .await
            .unwrap();
        assert!(resident.as_u64().unwrap() <= 400);
    }
    // The hook runs between two messages: ask until the summary is there.
    let mut summaries = Value::Null;
    let found = eventually(5000, || !seen.lock().unwrap().is_empty()).await;
    assert!(found, "no summary was asked for");
    for _ in 0..50 {
        summaries = s.ask(SummarizerMsg::Summaries).await.unwrap();
        if summaries.as_array().is_some_and(|a| !a.is_empty()) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(
        summaries[0], "SUMMARY: the user listed facts 0 to 3.",
        "{summaries}"
    );
    let pages = k.pager().pages(s.pid()).await.unwrap();
    assert!(
        pages.iter().any(|p| p.kind == PageKind::Summary),
        "{pages:?}"
    );
    let stats = k.pager().stats(s.pid()).await.unwrap();
    assert!(stats.pressure_notices >= 1, "{stats:?}");
    // What the model was asked: the instruction and the oldest facts, not the newest.
    let request = seen.lock().unwrap()[0].clone();
    assert_eq!(request["messages"][0]["content"], SUMMARY_INSTRUCTION);
    let transcript = request["messages"][1]["content"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(transcript.contains("Fact number 0"), "{transcript}");
    assert!(!transcript.contains("Fact number 11"), "{transcript}");
    // The summarised pages were freed: fewer conversation pages than notes.
    let messages = pages.iter().filter(|p| p.kind == PageKind::Message).count();
    assert!(messages < 12, "{pages:?}");
    k.shutdown().await;
}

/// A message that jumps over the budget: the pager evicts pages before the hook runs, and the
/// hook summarises those evicted pages into a summary page and frees them.
#[actix_rt::test]
async fn evicted_pages_are_what_gets_summarised() {
    let (url, seen) = openai_server(|_| text("SUMMARY: facts 0 to 2.")).await;
    let root = tempfile::tempdir().unwrap();
    let (k, _db) = kernel_with(config(&url, root.path())).await;
    let s = k
        .spawn(
            Summarizer::new("test-model").factory(),
            SpawnOptions::new("summarizer").context_budget(400),
        )
        .await
        .unwrap();
    for i in 0..3 {
        let text = format!("Fact number {i}: district {i} holds {} crates.", i * 17);
        s.ask(SummarizerMsg::Note {
            role: Role::User,
            text,
        })
        .await
        .unwrap();
    }
    let big = format!("The long report: {}", "apples and pears ".repeat(90));
    s.ask(SummarizerMsg::Note {
        role: Role::Assistant,
        text: big,
    })
    .await
    .unwrap();
    let mut summaries = Value::Null;
    for _ in 0..100 {
        summaries = s.ask(SummarizerMsg::Summaries).await.unwrap();
        if summaries.as_array().is_some_and(|a| !a.is_empty()) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(summaries[0], "SUMMARY: facts 0 to 2.", "{summaries}");
    let stats = k.pager().stats(s.pid()).await.unwrap();
    assert!(stats.evictions >= 1, "{stats:?}");
    let request = seen.lock().unwrap()[0].clone();
    let transcript = request["messages"][1]["content"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(transcript.contains("Fact number 0"), "{transcript}");
    let pages = k.pager().pages(s.pid()).await.unwrap();
    assert!(
        pages
            .iter()
            .all(|p| p.resident || p.kind != PageKind::Message),
        "no evicted message left: {pages:?}"
    );
    assert!(
        pages
            .iter()
            .any(|p| p.kind == PageKind::Summary && p.resident)
    );
    k.shutdown().await;
}
