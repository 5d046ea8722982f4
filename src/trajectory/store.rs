//! SQL on `trajectories`: batched inserts and filtered reads.

use chrono::{DateTime, Utc};
use sea_orm::Value;

use super::query::TrajectoryQuery;
use super::trace::{StepOutcome, TrajectoryStep};
use crate::storage::sql::{col, fetch_all, int, run};
use crate::storage::{Storage, StorageError};

const COLUMNS: &str = "pid, agent_name, agent_type, task, step, started_at, duration_ms, sender, \
     topic, outcome, error, llm_calls, tool_calls, preemptions, faults, prompt_tokens, \
     completion_tokens, cost_usd";

/// Appends `steps` with one multi-row `INSERT`.
pub(crate) async fn insert(
    storage: &Storage,
    steps: &[TrajectoryStep],
) -> Result<(), StorageError> {
    if steps.is_empty() {
        return Ok(());
    }
    let mut sql = format!("INSERT INTO trajectories ({COLUMNS}) VALUES ");
    let mut values = Vec::with_capacity(steps.len() * 18);
    for (i, s) in steps.iter().enumerate() {
        if i > 0 {
            sql.push_str(", ");
        }
        sql.push_str("(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
        let (prompt, completion) = s.tokens();
        let json = |v: serde_json::Value| Value::Json(Some(Box::new(v)));
        values.extend([
            s.pid.to_string().into(),
            s.agent_name.clone().into(),
            s.agent_type.clone().into(),
            s.task.clone().into(),
            int(s.step),
            Value::ChronoDateTimeUtc(Some(s.started_at)),
            int(s.duration_ms),
            s.sender.map(|p| p.to_string()).into(),
            s.topic.clone().into(),
            s.outcome.as_str().into(),
            s.error.clone().into(),
            json(serde_json::to_value(&s.llm_calls).unwrap_or_default()),
            json(serde_json::to_value(&s.tool_calls).unwrap_or_default()),
            int(s.preemptions),
            int(s.faults),
            int(prompt),
            int(completion),
            Value::Double(Some(s.cost_usd())),
        ]);
    }
    run(storage, "recording trajectories", &sql, values).await?;
    Ok(())
}

/// The steps `q` selects, oldest first.
pub(crate) async fn select(
    storage: &Storage,
    q: &TrajectoryQuery,
) -> Result<Vec<TrajectoryStep>, StorageError> {
    let mut sql = format!("SELECT {COLUMNS} FROM trajectories WHERE 1 = 1");
    let mut values: Vec<Value> = Vec::new();
    if let Some(t) = &q.agent_type {
        sql.push_str(" AND agent_type = ?");
        values.push(t.clone().into());
    }
    if let Some(t) = &q.task {
        sql.push_str(" AND task = ?");
        values.push(t.clone().into());
    }
    if let Some(p) = q.pid {
        sql.push_str(" AND pid = ?");
        values.push(p.to_string().into());
    }
    if let Some(from) = q.from {
        sql.push_str(" AND started_at >= ?");
        values.push(Value::ChronoDateTimeUtc(Some(from)));
    }
    sql.push_str(if q.newest {
        " ORDER BY id DESC LIMIT ?"
    } else {
        " ORDER BY id LIMIT ?"
    });
    values.push(int(q.limit));
    let rows = fetch_all(storage, "reading trajectories", &sql, values).await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        let bad = |what: &str, e: &dyn std::fmt::Display| {
            crate::storage::sql::corrupt(storage, &format!("trajectories.{what}"), e)
        };
        let pid: String = col(storage, r, "pid")?;
        let sender: Option<String> = col(storage, r, "sender")?;
        let outcome: String = col(storage, r, "outcome")?;
        let step: i64 = col(storage, r, "step")?;
        let duration: i64 = col(storage, r, "duration_ms")?;
        let preemptions: i64 = col(storage, r, "preemptions")?;
        let faults: i64 = col(storage, r, "faults")?;
        let started_at: DateTime<Utc> = col(storage, r, "started_at")?;
        let llm: serde_json::Value = col(storage, r, "llm_calls")?;
        let tools: serde_json::Value = col(storage, r, "tool_calls")?;
        out.push(TrajectoryStep {
            pid: pid.parse().map_err(|e| bad("pid", &e))?,
            agent_name: col(storage, r, "agent_name")?,
            agent_type: col(storage, r, "agent_type")?,
            task: col(storage, r, "task")?,
            step: u64::try_from(step).unwrap_or(0),
            started_at,
            duration_ms: u64::try_from(duration).unwrap_or(0),
            sender: match sender {
                Some(s) => Some(s.parse().map_err(|e| bad("sender", &e))?),
                None => None,
            },
            topic: col(storage, r, "topic")?,
            outcome: StepOutcome::parse(&outcome).ok_or_else(|| bad("outcome", &outcome))?,
            error: col(storage, r, "error")?,
            llm_calls: serde_json::from_value(llm).map_err(|e| bad("llm_calls", &e))?,
            tool_calls: serde_json::from_value(tools).map_err(|e| bad("tool_calls", &e))?,
            preemptions: u64::try_from(preemptions).unwrap_or(0),
            faults: u64::try_from(faults).unwrap_or(0),
        });
    }
    if q.newest {
        out.reverse();
    }
    Ok(out)
}
