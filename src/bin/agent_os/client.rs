//! What every client command shares: the server's URL and token (flags or `AOK_URL` /
//! `AOK_TOKEN`), the HTTP client, the error type and its exit code, and the runtime a command
//! runs on.

use std::future::Future;
use std::process::ExitCode;
use std::time::Duration;

use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::{EXIT_CONFIG, EXIT_RUNTIME};

/// Exit code: the server could not be reached (refused, DNS, timeout, connection lost).
pub(crate) const EXIT_UNREACHABLE: u8 = 3;
/// Exit code: the server answered 404 (unknown agent, checkpoint or route).
pub(crate) const EXIT_NOT_FOUND: u8 = 4;
/// Exit code: the server answered 401 or 403 (no valid token, role too low).
pub(crate) const EXIT_DENIED: u8 = 5;

/// The URL used when neither `--url` nor `AOK_URL` is given.
pub(crate) const DEFAULT_URL: &str = "http://127.0.0.1:7878";

/// How to reach the server; flattened into every client command.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct Conn {
    /// The server's base URL, with the API's mount prefix if any (default `AOK_URL`, else
    /// http://127.0.0.1:7878).
    #[arg(long, value_name = "URL")]
    url: Option<String>,
    /// The bearer token (default `AOK_TOKEN`; none: anonymous, which a server with tokens
    /// refuses).
    #[arg(long, value_name = "TOKEN")]
    token: Option<String>,
    /// Print the server's JSON as-is instead of a table.
    #[arg(long)]
    pub(crate) json: bool,
}

/// An RFC 9457 problem document the server answered (every field optional: any error body
/// is reported, however malformed).
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct Problem {
    /// Short summary of the kind of problem.
    #[serde(default)]
    title: Option<String>,
    /// What went wrong this time.
    #[serde(default)]
    detail: Option<String>,
    /// The request field at fault.
    #[serde(default)]
    field: Option<String>,
}

/// Why a client command failed; each case has one exit code ([`ClientError::exit_code`]).
#[derive(Debug, thiserror::Error)]
pub(crate) enum ClientError {
    /// Bad usage or configuration (URL, JSON argument).
    #[error("{0}")]
    Usage(String),
    /// The server could not be reached.
    #[error("cannot reach the server at {url}: {reason}")]
    Unreachable {
        /// The server's base URL.
        url: String,
        /// Why (connection refused, timeout, …).
        reason: String,
    },
    /// The server answered with an error status.
    #[error("{}", describe(*.status, .problem, .body))]
    Status {
        /// The HTTP status.
        status: u16,
        /// The problem document, if the body was one.
        problem: Option<Problem>,
        /// The body (shown when it is not a problem document).
        body: String,
    },
    /// The server's answer is not what the API documents.
    #[error("the server's answer is malformed: {0}")]
    Malformed(String),
    /// The operation completed with a failing outcome (e.g. a broken audit chain).
    #[error("{0}")]
    Failed(String),
}

fn describe(status: u16, problem: &Option<Problem>, body: &str) -> String {
    match problem {
        Some(p) => {
            let mut s = format!("{} (HTTP {status})", p.title.as_deref().unwrap_or("error"));
            if let Some(d) = &p.detail {
                s.push_str(": ");
                s.push_str(d);
            }
            if let Some(f) = &p.field {
                s.push_str(&format!(" [field: {f}]"));
            }
            s
        }
        None => {
            let head: String = body.trim().chars().take(300).collect();
            format!("HTTP {status}: {head}")
        }
    }
}

impl ClientError {
    /// The process exit code of this failure (documented in `agent-os --help`).
    pub(crate) fn exit_code(&self) -> u8 {
        match self {
            ClientError::Usage(_) => EXIT_CONFIG,
            ClientError::Unreachable { .. } => EXIT_UNREACHABLE,
            ClientError::Status { status: 404, .. } => EXIT_NOT_FOUND,
            ClientError::Status {
                status: 401 | 403, ..
            } => EXIT_DENIED,
            ClientError::Status { .. } | ClientError::Malformed(_) | ClientError::Failed(_) => {
                EXIT_RUNTIME
            }
        }
    }
}

/// A successful answer: its text exactly as sent, and that text parsed as JSON.
#[derive(Debug)]
pub(crate) struct Answer {
    /// The body as the server sent it.
    pub(crate) text: String,
    /// The body parsed.
    pub(crate) value: serde_json::Value,
}

impl Answer {
    /// The body decoded into `T`, or [`ClientError::Malformed`].
    pub(crate) fn parse<T: DeserializeOwned>(&self) -> Result<T, ClientError> {
        T::deserialize(&self.value).map_err(|e| ClientError::Malformed(e.to_string()))
    }

    /// Prints the body as the server sent it (one JSON document, one line).
    pub(crate) fn print_json(&self) {
        println!("{}", self.text.trim_end());
    }
}

/// The HTTP client of one command.
#[derive(Debug, Clone)]
pub(crate) struct Client {
    http: reqwest::Client,
    base: String,
    token: Option<String>,
}

impl Client {
    /// A client for `conn` (flags first, then `AOK_URL` / `AOK_TOKEN`); a bad URL is a
    /// usage error.
    pub(crate) fn new(conn: &Conn) -> Result<Self, ClientError> {
        let raw = conn
            .url
            .clone()
            .or_else(|| {
                std::env::var("AOK_URL")
                    .ok()
                    .filter(|u| !u.trim().is_empty())
            })
            .unwrap_or_else(|| DEFAULT_URL.to_string());
        let parsed = reqwest::Url::parse(raw.trim()).map_err(|e| {
            ClientError::Usage(format!(
                "the server URL `{raw}` is invalid ({e}); use e.g. {DEFAULT_URL}"
            ))
        })?;
        if !matches!(parsed.scheme(), "http" | "https") || parsed.host().is_none() {
            return Err(ClientError::Usage(format!(
                "the server URL `{raw}` must be http:// or https:// with a host"
            )));
        }
        let token = conn
            .token
            .clone()
            .or_else(|| std::env::var("AOK_TOKEN").ok())
            .filter(|t| !t.trim().is_empty());
        // Two rustls crypto backends are linked; choose one before any https connection.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .user_agent(concat!("agent-os/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ClientError::Usage(format!("cannot build the HTTP client: {e}")))?;
        Ok(Client {
            http,
            base: parsed.as_str().trim_end_matches('/').to_string(),
            token,
        })
    }

    /// The server's base URL.
    pub(crate) fn base(&self) -> &str {
        &self.base
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let r = self.http.request(method, format!("{}{path}", self.base));
        match &self.token {
            Some(t) => r.bearer_auth(t),
            None => r,
        }
    }

    fn unreachable(&self, e: &reqwest::Error) -> ClientError {
        // The innermost cause says it best ("Connection refused (os error 111)").
        let mut reason = if e.is_timeout() {
            "timed out".to_string()
        } else {
            e.to_string()
        };
        let mut source = std::error::Error::source(e);
        while let Some(s) = source {
            reason = s.to_string();
            source = s.source();
        }
        ClientError::Unreachable {
            url: self.base.clone(),
            reason,
        }
    }

    /// Sends `req`; an error status becomes [`ClientError::Status`].
    async fn send(&self, req: reqwest::RequestBuilder) -> Result<reqwest::Response, ClientError> {
        let res = req.send().await.map_err(|e| self.unreachable(&e))?;
        let status = res.status();
        if status.is_success() {
            return Ok(res);
        }
        let body = res.text().await.unwrap_or_default();
        let problem = serde_json::from_str::<Problem>(&body)
            .ok()
            .filter(|p| p.title.is_some() || p.detail.is_some());
        Err(ClientError::Status {
            status: status.as_u16(),
            problem,
            body,
        })
    }

    async fn answer(&self, req: reqwest::RequestBuilder) -> Result<Answer, ClientError> {
        let res = self.send(req).await?;
        let text = res.text().await.map_err(|e| self.unreachable(&e))?;
        let value = serde_json::from_str(&text)
            .map_err(|e| ClientError::Malformed(format!("not JSON ({e})")))?;
        Ok(Answer { text, value })
    }

    /// `GET path` (under the base URL).
    pub(crate) async fn get(&self, path: &str) -> Result<Answer, ClientError> {
        self.answer(
            self.request(reqwest::Method::GET, path)
                .timeout(Duration::from_secs(60)),
        )
        .await
    }

    /// `POST path` with a JSON body (or none).
    pub(crate) async fn post(
        &self,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<Answer, ClientError> {
        let mut req = self.request(reqwest::Method::POST, path);
        if let Some(b) = body {
            req = req.json(b);
        }
        self.answer(req).await
    }

    /// Opens the event stream, after `last_event_id` if given.
    pub(crate) async fn events(
        &self,
        last_event_id: Option<u64>,
    ) -> Result<reqwest::Response, ClientError> {
        let mut req = self
            .request(reqwest::Method::GET, "/v1/events")
            .header(reqwest::header::ACCEPT, "text/event-stream");
        if let Some(id) = last_event_id {
            req = req.header("Last-Event-ID", id.to_string());
        }
        self.send(req).await
    }

    /// A failure while reading a streamed body.
    pub(crate) fn lost(&self, e: &reqwest::Error) -> ClientError {
        self.unreachable(e)
    }
}

/// Runs a client command on a fresh runtime: prints its failure on stderr and returns its
/// exit code.
pub(crate) fn run<F>(command: F) -> ExitCode
where
    F: Future<Output = Result<(), ClientError>>,
{
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("agent-os: cannot start a runtime: {e}");
            return ExitCode::from(EXIT_RUNTIME);
        }
    };
    match rt.block_on(command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("agent-os: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}

/// A JSON command-line argument (a message, spawn options), for clap.
pub(crate) fn json_arg(raw: &str) -> Result<serde_json::Value, String> {
    serde_json::from_str(raw).map_err(|e| format!("not JSON: {e}"))
}

/// A pid command-line argument (a UUID), for clap: a malformed one is a usage error (exit 2)
/// rather than a request the server refuses.
pub(crate) fn pid_arg(raw: &str) -> Result<String, String> {
    raw.trim()
        .parse::<agent_os_kernel::Pid>()
        .map(|p| p.to_string())
        .map_err(|e| e.to_string())
}

/// A checkpoint id argument (a UUID), for clap.
pub(crate) fn checkpoint_arg(raw: &str) -> Result<String, String> {
    uuid::Uuid::parse_str(raw.trim())
        .map(|u| u.to_string())
        .map_err(|_| format!("`{raw}` is not a checkpoint id (a UUID)"))
}
