//! `agent-os top`: the agents and the scheduler, refreshed every `--interval` seconds until
//! Ctrl-C (or `--iterations` refreshes).

use std::io::{IsTerminal, Write as _};
use std::process::ExitCode;
use std::time::Duration;

use serde::Deserialize;

use super::agents::{AgentRow, agents_table};
use super::client::{self, Client, ClientError, Conn};

/// `agent-os top` arguments.
#[derive(Debug, clap::Args)]
pub(crate) struct TopArgs {
    /// Seconds between two refreshes.
    #[arg(long, short = 'n', value_name = "SECS", default_value_t = 2.0)]
    interval: f64,
    /// Stop after this many refreshes (for scripts and tests; default: until Ctrl-C).
    #[arg(long, value_name = "N")]
    iterations: Option<u64>,
    #[command(flatten)]
    conn: Conn,
}

/// The scheduler fields `top` shows.
#[derive(Debug, Deserialize)]
struct Sched {
    policy: String,
    global_slots: usize,
    running: usize,
    queued: usize,
    waiting_quota: usize,
    wait_p99_ms: f64,
}

/// One refresh: the screen's text, or with `--json` one line `{"agents","scheduler"}`.
async fn frame(c: &Client, json: bool) -> Result<String, ClientError> {
    let agents = c.get("/v1/agents").await?;
    let sched = c.get("/v1/scheduler").await?;
    if json {
        return Ok(
            serde_json::json!({ "agents": agents.value, "scheduler": sched.value }).to_string()
                + "\n",
        );
    }
    let rows: Vec<AgentRow> = agents.parse()?;
    let s: Sched = sched.parse()?;
    let now = chrono::Local::now().format("%H:%M:%S");
    Ok(format!(
        "agent-os top — {} — {now}\nscheduler: {} | running {}/{} | queued {} | waiting quota {} | wait p99 {:.1} ms\nagents: {}\n\n{}",
        c.base(),
        s.policy,
        s.running,
        s.global_slots,
        s.queued,
        s.waiting_quota,
        s.wait_p99_ms,
        rows.len(),
        agents_table(&rows)
    ))
}

/// Runs the refresh loop.
pub(crate) fn top(args: TopArgs) -> ExitCode {
    client::run(async move {
        if !(args.interval.is_finite() && args.interval >= 0.1) {
            return Err(ClientError::Usage(
                "--interval must be at least 0.1 seconds".into(),
            ));
        }
        let c = Client::new(&args.conn)?;
        let clear = !args.conn.json && std::io::stdout().is_terminal();
        let every = Duration::from_secs_f64(args.interval);
        let refresh = async {
            let mut done = 0u64;
            loop {
                let text = frame(&c, args.conn.json).await?;
                let mut out = std::io::stdout().lock();
                if clear {
                    let _ = write!(out, "\x1b[2J\x1b[H");
                }
                let _ = write!(out, "{text}");
                let _ = out.flush();
                drop(out);
                done += 1;
                if args.iterations.is_some_and(|n| done >= n) {
                    return Ok(());
                }
                tokio::time::sleep(every).await;
            }
        };
        // Ctrl-C ends it at any point, also during a request.
        tokio::select! {
            r = refresh => r,
            _ = tokio::signal::ctrl_c() => Ok(()),
        }
    })
}
