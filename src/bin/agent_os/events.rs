//! `agent-os events [--follow] [--since ID] [--limit N]`: the server's live event stream
//! (SSE). With `--follow` a dropped connection is reopened with `Last-Event-ID`, so nothing is
//! missed or repeated while the server keeps the events (a `gap` event says otherwise).

use std::process::ExitCode;
use std::time::Duration;

use futures::StreamExt;

use super::client::{self, Client, ClientError, Conn};

/// Without `--follow`, the command ends once no event arrived for this long (the kept events
/// are sent at once when the stream opens).
const QUIET: Duration = Duration::from_millis(500);
/// Without `--follow`, how long the first bytes may take (a loaded server or machine).
const FIRST_QUIET: Duration = Duration::from_secs(3);
/// The longest pause between two reconnection attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// `agent-os events` arguments.
#[derive(Debug, clap::Args)]
pub(crate) struct EventsArgs {
    /// Keep streaming live events until Ctrl-C, reconnecting after a dropped connection.
    #[arg(long, short)]
    follow: bool,
    /// Start after this event id (default: every event the server still keeps).
    #[arg(long, value_name = "ID")]
    since: Option<u64>,
    /// Exit after printing this many events.
    #[arg(long, value_name = "N")]
    limit: Option<u64>,
    #[command(flatten)]
    conn: Conn,
}

/// One server-sent event.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SseEvent {
    /// `id:` (none on `gap`).
    pub(crate) id: Option<u64>,
    /// `event:` (`message` when absent).
    pub(crate) event: String,
    /// `data:` lines joined by newlines.
    pub(crate) data: String,
}

/// An incremental `text/event-stream` parser: bytes in, complete events out.
#[derive(Debug, Default)]
pub(crate) struct SseParser {
    buf: Vec<u8>,
    id: Option<u64>,
    event: Option<String>,
    data: Option<String>,
}

impl SseParser {
    /// Feeds a chunk; returns the events it completed.
    pub(crate) fn push(&mut self, chunk: &[u8]) -> Vec<SseEvent> {
        self.buf.extend_from_slice(chunk);
        let mut out = Vec::new();
        while let Some(nl) = self.buf.iter().position(|b| *b == b'\n') {
            let raw: Vec<u8> = self.buf.drain(..=nl).collect();
            let line = String::from_utf8_lossy(&raw);
            let line = line.trim_end_matches(['\n', '\r']);
            if line.is_empty() {
                if let Some(data) = self.data.take() {
                    out.push(SseEvent {
                        id: self.id.take(),
                        event: self.event.take().unwrap_or_else(|| "message".into()),
                        data,
                    });
                }
                self.id = None;
                self.event = None;
                continue;
            }
            if line.starts_with(':') {
                continue;
            }
            let (field, value) = line.split_once(':').unwrap_or((line, ""));
            let value = value.strip_prefix(' ').unwrap_or(value);
            match field {
                "id" => self.id = value.trim().parse().ok(),
                "event" => self.event = Some(value.to_string()),
                "data" => match &mut self.data {
                    Some(d) => {
                        d.push('\n');
                        d.push_str(value);
                    }
                    None => self.data = Some(value.to_string()),
                },
                _ => {}
            }
        }
        out
    }
}

/// How one connection ended.
enum Ended {
    /// `--limit` reached, or (without `--follow`) the stream went quiet.
    Done,
    /// The connection dropped or the server closed it.
    Dropped(String),
}

/// Prints one event: a JSON line `{"id","event","data"}` with `--json`, else
/// `ID  EVENT  DATA`.
fn print(e: &SseEvent, json: bool) -> Result<(), ClientError> {
    let data: serde_json::Value = serde_json::from_str(&e.data).map_err(|err| {
        ClientError::Malformed(format!("event {:?}: data is not JSON ({err})", e.event))
    })?;
    if json {
        println!(
            "{}",
            serde_json::json!({ "id": e.id, "event": e.event, "data": data })
        );
    } else {
        let id = e.id.map_or_else(|| "-".to_string(), |i| i.to_string());
        println!("{id}  {:<16}  {data}", e.event);
    }
    Ok(())
}

struct Follow {
    args: EventsArgs,
    client: Client,
    /// The last id printed (resume point).
    last: Option<u64>,
    printed: u64,
}

impl Follow {
    fn limit_reached(&self) -> bool {
        self.args.limit.is_some_and(|n| self.printed >= n)
    }

    /// Reads one connection until it ends.
    async fn read(&mut self, res: reqwest::Response, first: bool) -> Result<Ended, ClientError> {
        let mut parser = SseParser::default();
        let mut body = res.bytes_stream();
        let mut quiet = FIRST_QUIET;
        loop {
            if self.limit_reached() {
                return Ok(Ended::Done);
            }
            let next = if self.args.follow {
                body.next().await
            } else {
                match tokio::time::timeout(quiet, body.next()).await {
                    Ok(n) => n,
                    Err(_) => return Ok(Ended::Done),
                }
            };
            quiet = QUIET;
            let chunk = match next {
                None => return Ok(Ended::Dropped("the server closed the stream".into())),
                Some(Err(e)) => return Ok(Ended::Dropped(self.client.lost(&e).to_string())),
                Some(Ok(c)) => c,
            };
            for e in parser.push(&chunk) {
                // Asked for "everything kept" with id 0: the opening gap says only that.
                if first && self.args.since.is_none() && e.event == "gap" {
                    continue;
                }
                if self.limit_reached() {
                    return Ok(Ended::Done);
                }
                print(&e, self.args.conn.json)?;
                self.printed += 1;
                if let Some(id) = e.id {
                    self.last = Some(id);
                }
            }
        }
    }

    async fn run(mut self) -> Result<(), ClientError> {
        let res = self.client.events(Some(self.last.unwrap_or(0))).await?;
        let mut ended = self.read(res, true).await?;
        let mut backoff = Duration::from_millis(250);
        loop {
            let reason = match ended {
                Ended::Done => return Ok(()),
                Ended::Dropped(_) if !self.args.follow => return Ok(()),
                Ended::Dropped(reason) => reason,
            };
            eprintln!(
                "agent-os events: {reason}; reconnecting after event {}",
                self.last.map_or_else(|| "0".into(), |i| i.to_string())
            );
            ended = loop {
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
                match self.client.events(Some(self.last.unwrap_or(0))).await {
                    Ok(res) => {
                        backoff = Duration::from_millis(250);
                        break self.read(res, false).await?;
                    }
                    Err(e @ ClientError::Unreachable { .. }) => {
                        eprintln!("agent-os events: {e}; retrying in {backoff:?}");
                    }
                    Err(e) => return Err(e),
                }
            };
        }
    }
}

/// Streams the events; Ctrl-C ends it with exit 0.
pub(crate) fn events(args: EventsArgs) -> ExitCode {
    client::run(async move {
        let client = Client::new(&args.conn)?;
        let follow = Follow {
            last: args.since,
            args,
            client,
            printed: 0,
        };
        tokio::select! {
            r = follow.run() => r,
            _ = tokio::signal::ctrl_c() => Ok(()),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_split_across_chunks_comments_and_gaps() {
        let mut p = SseParser::default();
        assert!(p.push(b": keepalive\n\nid: 7\nevent: spa").is_empty());
        let got = p.push(b"wned\ndata: {\"a\":1}\n\nevent: gap\r\ndata: {}\r\n\r\n");
        assert_eq!(
            got,
            vec![
                SseEvent {
                    id: Some(7),
                    event: "spawned".into(),
                    data: "{\"a\":1}".into()
                },
                SseEvent {
                    id: None,
                    event: "gap".into(),
                    data: "{}".into()
                },
            ]
        );
    }
}
