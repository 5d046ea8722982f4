//! `agent-os checkpoint PID`, `checkpoint list PID` (`checkpoints PID`), `restore ID`.

use std::process::ExitCode;

use serde::Deserialize;

use super::client::{self, Client, Conn};
use super::output::{Table, progress};

/// `agent-os checkpoint` arguments: take one, or a subcommand.
#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub(crate) struct CheckpointArgs {
    #[command(subcommand)]
    action: Option<CheckpointAction>,
    /// The agent to checkpoint now.
    #[arg(value_parser = client::pid_arg, required = true)]
    pid: Option<String>,
    #[command(flatten)]
    conn: Conn,
}

/// `agent-os checkpoint …` subcommands.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum CheckpointAction {
    /// Lists an agent's stored checkpoints, oldest first (also of a stopped agent).
    List(ListArgs),
}

/// `agent-os checkpoint list` / `checkpoints` arguments.
#[derive(Debug, clap::Args)]
pub(crate) struct ListArgs {
    /// The agent.
    #[arg(value_parser = client::pid_arg)]
    pid: String,
    #[command(flatten)]
    conn: Conn,
}

/// `agent-os restore` arguments.
#[derive(Debug, clap::Args)]
pub(crate) struct RestoreArgs {
    /// The checkpoint id (`agent-os checkpoints PID` lists them).
    #[arg(value_name = "CHECKPOINT_ID", value_parser = client::checkpoint_arg)]
    id: String,
    #[command(flatten)]
    conn: Conn,
}

/// A stored checkpoint (the fields the table shows).
#[derive(Debug, Deserialize)]
struct CheckpointRow {
    id: String,
    sequence: u64,
    step: u64,
    kind: String,
    bytes: u64,
    created_at: String,
}

#[derive(Debug, Deserialize)]
struct PidOnly {
    pid: String,
}

/// `agent-os checkpoint PID` (prints the new checkpoint's id) or `checkpoint list PID`.
pub(crate) fn checkpoint(args: CheckpointArgs) -> ExitCode {
    let pid = match (args.action, args.pid) {
        (Some(CheckpointAction::List(list)), _) => return self::list(list),
        (None, Some(pid)) => pid,
        // clap requires one of them.
        (None, None) => return ExitCode::from(super::EXIT_CONFIG),
    };
    let conn = args.conn;
    client::run(async move {
        let c = Client::new(&conn)?;
        let path = format!("/v1/agents/{pid}/checkpoints");
        let answer = progress("waiting for the checkpoint to commit", c.post(&path, None)).await?;
        if conn.json {
            answer.print_json();
        } else {
            println!("{}", answer.parse::<CheckpointRow>()?.id);
        }
        Ok(())
    })
}

/// `agent-os checkpoints PID`: the agent's checkpoints.
pub(crate) fn list(args: ListArgs) -> ExitCode {
    client::run(async move {
        let c = Client::new(&args.conn)?;
        let answer = c
            .get(&format!("/v1/agents/{}/checkpoints", args.pid))
            .await?;
        if args.conn.json {
            answer.print_json();
            return Ok(());
        }
        let rows: Vec<CheckpointRow> = answer.parse()?;
        let mut t = Table::new(&["ID", "SEQ", "STEP", "KIND", "BYTES", "CREATED"]);
        for r in rows {
            t.row(vec![
                r.id,
                r.sequence.to_string(),
                r.step.to_string(),
                r.kind,
                r.bytes.to_string(),
                r.created_at,
            ]);
        }
        print!("{}", t.render());
        Ok(())
    })
}

/// `agent-os restore ID`: restores a checkpoint into its agent; prints the agent's pid.
pub(crate) fn restore(args: RestoreArgs) -> ExitCode {
    client::run(async move {
        let c = Client::new(&args.conn)?;
        let path = format!("/v1/checkpoints/{}/restore", args.id);
        let answer = progress("restoring the checkpoint", c.post(&path, None)).await?;
        if args.conn.json {
            answer.print_json();
        } else {
            println!("{}", answer.parse::<PidOnly>()?.pid);
        }
        Ok(())
    })
}
