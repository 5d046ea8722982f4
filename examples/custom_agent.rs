//! The smallest complete agent: typed messages, state, tell/ask through a typed handle, a
//! reply type per message through a reply port, JSON access, and a snapshot.
//!
//! Run: `cargo run --example custom_agent`

use agent_os_kernel::prelude::*;
use serde::{Deserialize, Serialize};

/// The agent's state.
#[derive(Default)]
struct Counter {
    total: i64,
    history: Vec<i64>,
}

/// The messages it understands. They are serde, so it can be opened to JSON (the CLI, the
/// HTTP API and the envelope use JSON); typed handles do not need that.
#[derive(Serialize, Deserialize)]
enum CounterMsg {
    Add(i64),
    Get,
}

impl Agent for Counter {
    type Msg = CounterMsg;
    type Reply = i64;

    async fn handle(
        &mut self,
        msg: CounterMsg,
        _ctx: &mut AgentContext,
    ) -> Result<i64, AgentError> {
        if let CounterMsg::Add(n) = msg {
            self.total += n;
            self.history.push(n);
        }
        Ok(self.total)
    }

    fn snapshot(&self) -> Result<Option<serde_json::Value>, AgentError> {
        Ok(Some(
            serde_json::json!({ "total": self.total, "history": self.history }),
        ))
    }
}

/// An agent whose messages answer different types: each carries its own reply port.
#[derive(Default)]
struct Notes {
    notes: Vec<String>,
}

enum NotesMsg {
    Write(String),
    Count(ReplyPort<usize>),
    Last(ReplyPort<Option<String>>),
}

impl Agent for Notes {
    type Msg = NotesMsg;
    type Reply = ();

    async fn handle(&mut self, msg: NotesMsg, _ctx: &mut AgentContext) -> Result<(), AgentError> {
        match msg {
            NotesMsg::Write(note) => self.notes.push(note),
            NotesMsg::Count(reply) => reply.send(self.notes.len()),
            NotesMsg::Last(reply) => reply.send(self.notes.last().cloned()),
        }
        Ok(())
    }
}

#[actix::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let kernel = Kernel::builder().build().await?;

    // `.json()` opens the agent to JSON by pid; the handle is typed either way.
    let counter = kernel
        .spawn(Counter::default, SpawnOptions::new("counter"))
        .json()
        .await?;
    counter.tell(CounterMsg::Add(40)).await?; // fire and forget
    let total = counter.ask(CounterMsg::Add(2)).await?; // an i64: `Counter::Reply`
    println!("ask(Add(2)) -> {total}");

    // The same agent through JSON, by pid (what the HTTP API and the CLI use).
    let json = kernel
        .ask_json(
            counter.pid(),
            serde_json::json!("Get"),
            std::time::Duration::from_secs(1),
        )
        .await?;
    println!("ask_json(\"Get\") -> {json}");
    println!("snapshot -> {:?}", kernel.snapshot(counter.pid()).await?);

    // A reply type per message.
    let notes = kernel
        .spawn(Notes::default, SpawnOptions::new("notes"))
        .await?;
    notes
        .tell(NotesMsg::Write("pages are 512 tokens".into()))
        .await?;
    notes
        .tell(NotesMsg::Write("the LLM is the CPU".into()))
        .await?;
    let count = notes.call(NotesMsg::Count).await?; // usize
    let last = notes.call(NotesMsg::Last).await?; // Option<String>
    println!("notes: {count}, last: {last:?}");

    // JSON to an agent without JSON access is a typed error naming it.
    match kernel
        .send_json(notes.pid(), serde_json::json!("Count"))
        .await
    {
        Err(e @ IpcError::NoJsonAccess { .. }) => println!("as expected: {e}"),
        other => println!("unexpected: {other:?}"),
    }

    let info = kernel.status(counter.pid())?;
    println!(
        "{} is {} after {} messages",
        info.name, info.state, info.handled
    );
    kernel.shutdown().await;
    Ok(())
}
