//! The smallest complete agent: typed messages, state, ask/reply, send, snapshot.
//!
//! Run: `cargo run --example custom_agent`

use std::time::Duration;

use agent_os_kernel::prelude::*;
use serde::{Deserialize, Serialize};

/// The agent's state.
#[derive(Default)]
struct Counter {
    total: i64,
}

/// The messages it understands (JSON-friendly, so the CLI and HTTP API can send them too).
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
        match msg {
            CounterMsg::Add(n) => self.total += n,
            CounterMsg::Get => {}
        }
        Ok(self.total)
    }

    fn snapshot(&self) -> Result<Option<serde_json::Value>, AgentError> {
        Ok(Some(serde_json::json!({ "total": self.total })))
    }
}

#[actix::main]
async fn main() -> Result<(), KernelError> {
    let kernel = Kernel::builder().build().await?;
    let pid = kernel
        .spawn(Counter::default, SpawnOptions::new("counter"))
        .await?;

    kernel.send(pid, CounterMsg::Add(40)).await?; // fire and forget
    let total: i64 = kernel
        .ask(pid, CounterMsg::Add(2), Duration::from_secs(1))
        .await?;
    println!("ask(Add(2)) -> {total}");

    // The same agent through the JSON envelope (what the HTTP API and CLI use).
    let json = kernel
        .ask_json(pid, serde_json::json!("Get"), Duration::from_secs(1))
        .await?;
    println!("ask_json(\"Get\") -> {json}");
    println!("snapshot -> {:?}", kernel.snapshot(pid).await?);

    let info = kernel.status(pid)?;
    println!(
        "{} is {} after {} messages",
        info.name, info.state, info.handled
    );
    kernel.shutdown().await;
    Ok(())
}
