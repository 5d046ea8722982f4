//! An agent's context memory through the pager, offline (lexical embedder, embedded SQLite):
//! a pinned system prompt, a conversation that outgrows its budget, a long-term memory, the
//! prompt for the next call, recall of an evicted turn, and the pager's stats.
//!
//! Run: `cargo run --example context_memory`

use agent_os_kernel::pager::{NewPage, PageKind};
use agent_os_kernel::prelude::*;
use agent_os_kernel::provider::Message;

/// Keeps notes of what it is told and answers questions from its context.
struct Notetaker;

enum Note {
    Say(String),
    Ask(String),
}

impl Agent for Notetaker {
    type Msg = Note;
    type Reply = String;

    async fn on_start(&mut self, ctx: &mut AgentContext) -> Result<(), AgentError> {
        ctx.allocate(NewPage::new(PageKind::System, "You keep careful notes."))
            .await?;
        ctx.remember("The project deadline is the 14th of March.", 0.9)
            .await?;
        Ok(())
    }

    async fn handle(&mut self, msg: Note, ctx: &mut AgentContext) -> Result<String, AgentError> {
        match msg {
            Note::Say(text) => {
                ctx.add_message(&Message::user(text)).await?;
                Ok(String::new())
            }
            Note::Ask(question) => {
                // The messages the next LLM call would get (`ctx.llm_paged` sends them).
                let context = ctx.context(Some(&question)).await?;
                let best = ctx.recall(&question, 1).await?;
                Ok(format!(
                    "{} messages, {} tokens in the prompt; best match: {:?}",
                    context.messages.len(),
                    context.tokens,
                    best.first().map(|r| r.content.as_str()).unwrap_or("-")
                ))
            }
        }
    }

    async fn on_memory_pressure(
        &mut self,
        pressure: MemoryPressure,
        _ctx: &mut AgentContext,
    ) -> Result<(), AgentError> {
        println!(
            "memory pressure: {} of {} tokens resident",
            pressure.resident_tokens, pressure.budget_tokens
        );
        Ok(())
    }
}

#[actix::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::temp_dir().join(format!("aok-context-{}", std::process::id()));
    let kernel = Kernel::builder()
        .storage_url(format!("sqlite://{}/kernel.db", dir.display()))
        .build()
        .await?;
    let agent = kernel
        .spawn(
            || Notetaker,
            SpawnOptions::new("notetaker").context_budget(600),
        )
        .await?;
    agent
        .ask(Note::Say("The blue server rack sits in room 4.".into()))
        .await?;
    for i in 0..20 {
        let filler = format!("Status update {i}: all builds green, nothing to report today. ");
        agent.ask(Note::Say(filler.repeat(3))).await?;
    }
    println!(
        "{}",
        agent
            .ask(Note::Ask("where is the blue server rack?".into()))
            .await?
    );
    println!(
        "{}",
        agent
            .ask(Note::Ask("when is the project deadline?".into()))
            .await?
    );
    let stats = kernel.pager().stats(agent.pid()).await?;
    println!(
        "resident {} pages / {} tokens (budget {}), swapped {} pages, {} evictions in {} batches, {} faults",
        stats.resident_pages,
        stats.resident_tokens,
        stats.budget_tokens,
        stats.swapped_pages,
        stats.evictions,
        stats.eviction_batches,
        stats.faults
    );
    kernel.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
