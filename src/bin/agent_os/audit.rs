//! `agent-os audit verify`: walks the whole audit hash chain on the server.

use std::process::ExitCode;

use serde::Deserialize;

use super::client::{self, Client, ClientError, Conn};
use super::output::progress;

/// `agent-os audit verify` arguments.
#[derive(Debug, clap::Args)]
pub(crate) struct VerifyArgs {
    #[command(flatten)]
    conn: Conn,
}

/// What `POST /v1/audit/verify` found.
#[derive(Debug, Deserialize)]
struct Verified {
    ok: bool,
    rows: u64,
    first_bad_seq: Option<u64>,
    reason: Option<String>,
}

/// Verifies the chain: exit 0 when intact, 1 when broken (the first bad row is named).
pub(crate) fn verify(args: VerifyArgs) -> ExitCode {
    client::run(async move {
        let c = Client::new(&args.conn)?;
        let answer = progress(
            "verifying the audit chain",
            c.post("/v1/audit/verify", None),
        )
        .await?;
        let v: Verified = answer.parse()?;
        if args.conn.json {
            answer.print_json();
        } else if v.ok {
            println!("audit chain intact: {} rows verified", v.rows);
        }
        if v.ok {
            return Ok(());
        }
        Err(ClientError::Failed(format!(
            "the audit chain is broken at seq {} ({} rows read): {}",
            v.first_bad_seq
                .map_or_else(|| "?".to_string(), |s| s.to_string()),
            v.rows,
            v.reason.as_deref().unwrap_or("no reason given")
        )))
    })
}
