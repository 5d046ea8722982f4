//! `agent-os optimize`: the server's optimizer report (per agent type, per backend) and its
//! suggestions; `--apply` makes every suggested change (operator).

use std::process::ExitCode;

use agent_os_kernel::optimizer::{Analysis, Applied};

use super::client::{self, Client, ClientError, Conn};
use super::output::{Table, progress};

/// `agent-os optimize` arguments.
#[derive(Debug, clap::Args)]
pub(crate) struct OptimizeArgs {
    /// Only this agent type.
    #[arg(long, value_name = "TYPE")]
    agent_type: Option<String>,
    /// Fewest samples (attempts, calls) a rule takes as evidence.
    #[arg(long, value_name = "N")]
    min_samples: Option<u64>,
    /// Apply every suggestion that carries a change (each is audited as `optimizer.apply`).
    #[arg(long)]
    apply: bool,
    #[command(flatten)]
    conn: Conn,
}

/// Percent-encodes a query value (RFC 3986 unreserved characters kept).
fn encode(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn path(args: &OptimizeArgs) -> String {
    let mut q = Vec::new();
    if let Some(t) = &args.agent_type {
        q.push(format!("agent_type={}", encode(t)));
    }
    if let Some(n) = args.min_samples {
        q.push(format!("min_samples={n}"));
    }
    if q.is_empty() {
        "/v1/optimizer".into()
    } else {
        format!("/v1/optimizer?{}", q.join("&"))
    }
}

fn print(a: &Analysis) {
    println!("{} steps read", a.steps);
    let mut types = Table::new(&[
        "TYPE",
        "TASKS",
        "OK%",
        "CUT",
        "STEPS p50",
        "STEP ms p50/p95",
        "LLM",
        "FAILED",
        "TOKENS",
        "COST $",
    ]);
    for t in &a.types {
        types.row(vec![
            t.agent_type.clone(),
            t.tasks.to_string(),
            format!("{:.0}", t.success_rate * 100.0),
            t.cut_off.to_string(),
            t.steps_per_task.p50.to_string(),
            format!("{}/{}", t.step_ms.p50, t.step_ms.p95),
            t.llm_calls.to_string(),
            t.llm_failures.to_string(),
            (t.prompt_tokens + t.completion_tokens).to_string(),
            format!("{:.4}", t.cost_usd),
        ]);
    }
    print!("{}", types.render());
    if !a.backends.is_empty() {
        let mut b = Table::new(&[
            "MODEL",
            "BACKEND",
            "POS",
            "ATTEMPTS",
            "FAILED%",
            "ms p50/p95",
        ]);
        for r in &a.backends {
            b.row(vec![
                r.model.clone(),
                r.backend.clone(),
                r.position.map_or_else(|| "-".into(), |p| p.to_string()),
                r.attempts.to_string(),
                format!("{:.0}", r.failure_rate * 100.0),
                format!("{}/{}", r.latency_ms.p50, r.latency_ms.p95),
            ]);
        }
        println!();
        print!("{}", b.render());
    }
    println!();
    if a.suggestions.is_empty() {
        println!("no suggestions");
    }
    for (i, s) in a.suggestions.iter().enumerate() {
        let kind = if s.change.is_some() { "" } else { " (advice)" };
        println!("{}. {}{kind}", i + 1, s.summary);
    }
}

/// Prints the analysis; with `--apply`, applies each suggested change and prints it.
pub(crate) fn optimize(args: OptimizeArgs) -> ExitCode {
    client::run(async move {
        let c = Client::new(&args.conn)?;
        let answer = progress("analyzing trajectories", c.get(&path(&args))).await?;
        let analysis: Analysis = answer.parse()?;
        if args.conn.json && !args.apply {
            answer.print_json();
            return Ok(());
        }
        if !args.conn.json {
            print(&analysis);
        }
        if !args.apply {
            return Ok(());
        }
        for s in analysis.suggestions.iter().filter(|s| s.change.is_some()) {
            let body = serde_json::to_value(&s.change)
                .map_err(|e| ClientError::Failed(format!("encoding the change: {e}")))?;
            let answer = c.post("/v1/optimizer/apply", Some(&body)).await?;
            if args.conn.json {
                answer.print_json();
            } else {
                let applied: Applied = answer.parse()?;
                let change = serde_json::to_string(&applied.change).unwrap_or_default();
                println!("applied {change} (was {})", applied.previous);
            }
        }
        Ok(())
    })
}
