//! `agent-os ps`, `spawn`, `tell`, `ask`, `stop`, `kill`: agents on a running server.

use std::process::ExitCode;

use serde::Deserialize;

use super::client::{self, Client, ClientError, Conn};
use super::output::{Table, cell, progress};

/// One agent of `GET /v1/agents` (the fields the table shows).
#[derive(Debug, Deserialize)]
pub(crate) struct AgentRow {
    pub(crate) pid: String,
    pub(crate) name: String,
    pub(crate) state: String,
    pub(crate) priority: u8,
    pub(crate) restarts: u32,
    pub(crate) handled: u64,
    pub(crate) mailbox_len: usize,
    pub(crate) mailbox_capacity: usize,
    pub(crate) agent_type: String,
}

/// `agent-os ps` arguments.
#[derive(Debug, clap::Args)]
pub(crate) struct PsArgs {
    #[command(flatten)]
    conn: Conn,
}

/// `agent-os spawn` arguments.
#[derive(Debug, clap::Args)]
pub(crate) struct SpawnArgs {
    /// A registered agent type (`echo` and `chat` on `agent-os serve`).
    #[arg(value_name = "TYPE")]
    agent_type: String,
    /// The agent's name (default: the type's name).
    #[arg(long)]
    name: Option<String>,
    /// More spawn options as a JSON object: priority, mailbox, restart, durable,
    /// context_budget, stop_timeout_ms (docs/api.md).
    #[arg(long, value_name = "JSON", value_parser = client::json_arg)]
    options: Option<serde_json::Value>,
    #[command(flatten)]
    conn: Conn,
}

/// `agent-os tell` arguments.
#[derive(Debug, clap::Args)]
pub(crate) struct TellArgs {
    /// The agent's pid.
    #[arg(value_parser = client::pid_arg)]
    pid: String,
    /// The message, as JSON of the agent's message type (`'"hi"'`, `'{"text":"hi"}'`).
    #[arg(value_name = "JSON", value_parser = client::json_arg)]
    message: serde_json::Value,
    /// For durable agents: a delivery id; the same id sent again is handled once.
    #[arg(long)]
    delivery_id: Option<String>,
    #[command(flatten)]
    conn: Conn,
}

/// `agent-os ask` arguments.
#[derive(Debug, clap::Args)]
pub(crate) struct AskArgs {
    /// The agent's pid.
    #[arg(value_parser = client::pid_arg)]
    pid: String,
    /// The message, as JSON of the agent's message type.
    #[arg(value_name = "JSON", value_parser = client::json_arg)]
    message: serde_json::Value,
    /// How long the server waits for the reply (default `kernel.ask_timeout_ms`).
    #[arg(long, value_name = "MS")]
    timeout_ms: Option<u64>,
    #[command(flatten)]
    conn: Conn,
}

/// `agent-os stop` arguments.
#[derive(Debug, clap::Args)]
pub(crate) struct StopArgs {
    /// The agent's pid.
    #[arg(value_parser = client::pid_arg)]
    pid: String,
    /// The graceful-stop deadline (default: the agent's).
    #[arg(long, value_name = "MS")]
    timeout_ms: Option<u64>,
    #[command(flatten)]
    conn: Conn,
}

/// `agent-os kill` arguments.
#[derive(Debug, clap::Args)]
pub(crate) struct KillArgs {
    /// The agent's pid.
    #[arg(value_parser = client::pid_arg)]
    pid: String,
    #[command(flatten)]
    conn: Conn,
}

/// A Rust type path without its modules (`agent_os::types::Echo` → `Echo`).
fn short_type(path: &str) -> &str {
    let base = path.split('<').next().unwrap_or(path);
    base.rsplit("::").next().unwrap_or(base)
}

/// The table of agents (`ps`, `top`).
pub(crate) fn agents_table(agents: &[AgentRow]) -> String {
    let mut t = Table::new(&[
        "PID", "NAME", "TYPE", "STATE", "PRIO", "MAILBOX", "HANDLED", "RESTARTS",
    ]);
    for a in agents {
        t.row(vec![
            a.pid.clone(),
            a.name.clone(),
            short_type(&a.agent_type).to_string(),
            a.state.clone(),
            a.priority.to_string(),
            format!("{}/{}", a.mailbox_len, a.mailbox_capacity),
            a.handled.to_string(),
            a.restarts.to_string(),
        ]);
    }
    t.render()
}

/// `agent-os ps`: the live agents.
pub(crate) fn ps(args: PsArgs) -> ExitCode {
    client::run(async move {
        let c = Client::new(&args.conn)?;
        let answer = c.get("/v1/agents").await?;
        if args.conn.json {
            answer.print_json();
            return Ok(());
        }
        let agents: Vec<AgentRow> = answer.parse()?;
        print!("{}", agents_table(&agents));
        Ok(())
    })
}

/// `agent-os spawn`: prints the new pid (the whole agent with `--json`).
pub(crate) fn spawn(args: SpawnArgs) -> ExitCode {
    client::run(async move {
        let mut body = match args.options {
            None => serde_json::Map::new(),
            Some(serde_json::Value::Object(m)) => m,
            Some(_) => {
                return Err(ClientError::Usage(
                    "--options must be a JSON object, e.g. '{\"priority\": 10}'".into(),
                ));
            }
        };
        let name = args
            .name
            .or_else(|| {
                body.get("name")
                    .and_then(|n| n.as_str())
                    .map(str::to_string)
            })
            .unwrap_or_else(|| args.agent_type.clone());
        body.insert("type".into(), args.agent_type.into());
        body.insert("name".into(), name.into());
        let c = Client::new(&args.conn)?;
        let answer = c
            .post("/v1/agents", Some(&serde_json::Value::Object(body)))
            .await?;
        if args.conn.json {
            answer.print_json();
        } else {
            let agent: AgentRow = answer.parse()?;
            println!("{}", agent.pid);
        }
        Ok(())
    })
}

#[derive(Debug, Deserialize)]
struct Queued {
    queued: bool,
}

/// `agent-os tell`: queues a message.
pub(crate) fn tell(args: TellArgs) -> ExitCode {
    client::run(async move {
        let mut body = serde_json::json!({ "message": args.message });
        if let Some(id) = args.delivery_id {
            body["delivery_id"] = id.into();
        }
        let c = Client::new(&args.conn)?;
        let answer = c
            .post(&format!("/v1/agents/{}/tell", args.pid), Some(&body))
            .await?;
        if args.conn.json {
            answer.print_json();
        } else if answer.parse::<Queued>()?.queued {
            println!("queued");
        } else {
            println!("already received (same delivery id): nothing queued");
        }
        Ok(())
    })
}

/// `agent-os ask`: sends a message and prints the reply (a string bare, other JSON compact).
pub(crate) fn ask(args: AskArgs) -> ExitCode {
    client::run(async move {
        let mut body = serde_json::json!({ "message": args.message });
        if let Some(ms) = args.timeout_ms {
            body["timeout_ms"] = ms.into();
        }
        let c = Client::new(&args.conn)?;
        let path = format!("/v1/agents/{}/ask", args.pid);
        let label = format!("waiting for the reply of {}", args.pid);
        let answer = progress(&label, c.post(&path, Some(&body))).await?;
        if args.conn.json {
            answer.print_json();
            return Ok(());
        }
        let reply = answer
            .value
            .get("reply")
            .ok_or_else(|| ClientError::Malformed("no `reply` in the answer".into()))?;
        println!("{}", cell(reply));
        Ok(())
    })
}

#[derive(Debug, Deserialize)]
struct Exit {
    pid: String,
    reason: String,
}

async fn end(
    conn: &Conn,
    path: String,
    body: Option<serde_json::Value>,
) -> Result<(), ClientError> {
    let c = Client::new(conn)?;
    let answer = progress(
        "waiting for the agent to exit",
        c.post(&path, body.as_ref()),
    )
    .await?;
    if conn.json {
        answer.print_json();
    } else {
        let exit: Exit = answer.parse()?;
        println!("{} exited: {}", exit.pid, exit.reason);
    }
    Ok(())
}

/// `agent-os stop`: a graceful stop; waits for the exit.
pub(crate) fn stop(args: StopArgs) -> ExitCode {
    client::run(async move {
        let body = args
            .timeout_ms
            .map(|ms| serde_json::json!({ "timeout_ms": ms }));
        end(&args.conn, format!("/v1/agents/{}/stop", args.pid), body).await
    })
}

/// `agent-os kill`: aborts the agent at once.
pub(crate) fn kill(args: KillArgs) -> ExitCode {
    client::run(async move { end(&args.conn, format!("/v1/agents/{}/kill", args.pid), None).await })
}
