//! Which LLM answers an example's LLM steps, shared by `quickstart` and `research_team`
//! (each includes it with `#[path = "common/local_llm.rs"] mod local_llm;`).
//!
//! [`LlmSetup::detect`] picks, in this order:
//!
//! 1. a backend detected from the environment the way the kernel always does it
//!    (`AOK__PROVIDERS__BACKENDS__…`, `OPENAI_API_KEY`, `OPENAI_BASE_URL`, `ANTHROPIC_API_KEY`,
//!    `DEEPSEEK_API_KEY`, `MOONSHOT_API_KEY`, `DASHSCOPE_API_KEY`, `MINIMAX_API_KEY`, or a local
//!    Ollama on 127.0.0.1:11434);
//! 2. else the real local model installed by `scripts/setup-llm.sh` (`llama-server` and
//!    SmolLM2-135M-Instruct under `${AOK_LLM_DIR:-$HOME/.cache/agent-os/llm}`): the server is
//!    started on a free port of 127.0.0.1, under a small shell watchdog that stops it when this
//!    process ends (even when it is killed), and configured as an `openai_compatible` backend
//!    named `local`; [`LlmSetup::stop`] (or dropping the setup) stops it;
//! 3. else the offline, deterministic `scripted` backend (it echoes, it does not generate).
//!
//! [`LlmSetup::line`] says which, in one plain line. `AOK_EXAMPLE_MODEL` (or the older
//! `AOK_QUICKSTART_MODEL`) overrides the model name requests ask for.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use agent_os_kernel::KernelConfig;

/// The name the local server serves the model under (`--alias`), and requests ask for.
const LOCAL_MODEL: &str = "smollm2";
/// The model file `scripts/setup-llm.sh` installs.
const MODEL_FILE: &str = "SmolLM2-135M-Instruct.Q4_1.gguf";
/// How long the server may take to load the model and answer `GET /health`.
const READY_DEADLINE: Duration = Duration::from_secs(120);

/// The LLM an example's kernel uses, and the configuration that selects it.
#[derive(Debug)]
pub(crate) struct LlmSetup {
    /// The kernel configuration (defaults + the `AOK__…` environment, plus the local backend
    /// when the local model was started).
    pub(crate) config: KernelConfig,
    /// The model name requests ask for.
    pub(crate) model: String,
    /// One plain line saying which LLM answers.
    pub(crate) line: String,
    /// The local server, when this setup started one.
    server: Option<LocalServer>,
}

impl LlmSetup {
    /// Detects the LLM (environment, then the local model, then `scripted`), starting the
    /// local model's server when it is the one. A local model that is installed but does not
    /// come up is reported on stderr and replaced by the scripted backend.
    pub(crate) async fn detect() -> Result<LlmSetup, Box<dyn std::error::Error>> {
        let mut config = KernelConfig::load(None)?;
        config.providers.probe_ollama = true;
        let mut probe = config.providers.clone();
        probe.offline_fallback = false;
        let found = probe.resolved(ollama_is_up().await).backends;
        if let Some((name, backend)) = found.iter().next() {
            let model = override_model()
                .or_else(|| backend.models.first().cloned())
                .unwrap_or_else(|| model_for(name));
            let names: Vec<&str> = found.keys().map(String::as_str).collect();
            let at = backend
                .base_url
                .as_deref()
                .map(|u| format!(" at {u}"))
                .unwrap_or_default();
            let line = format!(
                "LLM: detected from the environment: {} (requests go to `{name}`{at}, model {model})",
                names.join(", ")
            );
            return Ok(LlmSetup {
                config,
                model,
                line,
                server: None,
            });
        }
        match installed() {
            Ok((server, model_file)) => {
                println!(
                    "starting the local model: {} (waiting up to {} s for it to load)",
                    server.display(),
                    READY_DEADLINE.as_secs()
                );
                match LocalServer::start(&server, &model_file).await {
                    Ok(local) => {
                        let config = local_config(&local.base_url)?;
                        let model = override_model().unwrap_or_else(|| LOCAL_MODEL.to_owned());
                        let line = format!(
                            "LLM: the real local model SmolLM2-135M-Instruct (llama-server at {}, \
                             model {model}; scripts/setup-llm.sh installed it)",
                            local.base_url
                        );
                        return Ok(LlmSetup {
                            config,
                            model,
                            line,
                            server: Some(local),
                        });
                    }
                    Err(e) => eprintln!("the local model did not start: {e}"),
                }
            }
            Err(why) => tracing::debug!("no local model: {why}"),
        }
        config.providers.offline_fallback = true;
        Ok(LlmSetup {
            config,
            model: override_model().unwrap_or_else(|| "scripted".to_owned()),
            line: "LLM: the offline scripted backend — it echoes, it does not generate; run \
                   scripts/setup-llm.sh for a real local model"
                .to_owned(),
            server: None,
        })
    }

    /// Stops the local server, if this setup started one (dropping the setup does too).
    pub(crate) fn stop(&mut self) {
        self.server.take();
    }
}

/// `AOK_EXAMPLE_MODEL`, else `AOK_QUICKSTART_MODEL`, when set.
fn override_model() -> Option<String> {
    ["AOK_EXAMPLE_MODEL", "AOK_QUICKSTART_MODEL"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|m| !m.trim().is_empty()))
}

/// A reasonable small model for a detected backend.
fn model_for(backend: &str) -> String {
    match backend {
        "openai" => "gpt-4o-mini",
        "anthropic" => "claude-3-5-haiku-latest",
        "deepseek" => "deepseek-chat",
        "moonshot" => "moonshot-v1-8k",
        "qwen" => "qwen-turbo",
        "minimax" => "abab6.5s-chat",
        "ollama" => "qwen2.5:7b",
        _ => "default",
    }
    .to_string()
}

/// Whether a local Ollama answers on 127.0.0.1:11434 (a TCP connect, 200 ms).
async fn ollama_is_up() -> bool {
    let addr = SocketAddr::from(([127, 0, 0, 1], 11434));
    tokio::task::spawn_blocking(move || {
        TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok()
    })
    .await
    .unwrap_or(false)
}

/// Where `scripts/setup-llm.sh` caches the server and the model.
fn llm_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("AOK_LLM_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("."), PathBuf::from);
    home.join(".cache/agent-os/llm")
}

/// The cached server binary and model file, or what is missing.
fn installed() -> Result<(PathBuf, PathBuf), String> {
    let dir = llm_dir();
    let server = dir.join("bin/llama-server");
    let model = dir.join("models").join(MODEL_FILE);
    for path in [&server, &model] {
        if !std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.len() > 0) {
            return Err(format!("{} is not installed", path.display()));
        }
    }
    Ok((server, model))
}

/// The configuration: defaults and the process's `AOK__…` variables, plus an
/// `openai_compatible` backend `local` at `base_url` serving [`LOCAL_MODEL`] — the same
/// variables a user would export (see docs/operations.md).
fn local_config(base_url: &str) -> Result<KernelConfig, agent_os_kernel::ConfigError> {
    let local = [
        ("AOK__PROVIDERS__BACKENDS__LOCAL__KIND", "openai_compatible"),
        ("AOK__PROVIDERS__BACKENDS__LOCAL__BASE_URL", base_url),
        (
            "AOK__PROVIDERS__BACKENDS__LOCAL__MODELS",
            &format!(r#"["{LOCAL_MODEL}"]"#),
        ),
    ]
    .map(|(k, v)| (k.to_owned(), v.to_owned()));
    KernelConfig::from_sources(None, std::env::vars().chain(local))
}

/// A running llama-server with the local model, stopped when dropped.
#[derive(Debug)]
struct LocalServer {
    /// `http://127.0.0.1:PORT/v1`.
    base_url: String,
    /// The server's log file (removed after a clean stop, unless `keep_log`).
    log: PathBuf,
    /// Keep the log: the server failed and the log says why.
    keep_log: bool,
    /// The watchdog shell around the server.
    child: Child,
}

impl LocalServer {
    /// Starts the server on a free port and waits until `GET /health` answers 200.
    async fn start(server: &std::path::Path, model: &std::path::Path) -> Result<Self, String> {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| format!("no free local port: {e}"))?
            .port();
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let log = std::env::temp_dir().join(format!(
            "aok-example-llama-{}-{port}.log",
            std::process::id()
        ));
        let out = std::fs::File::create(&log)
            .map_err(|e| format!("cannot create {}: {e}", log.display()))?;
        let err = out.try_clone().map_err(|e| e.to_string())?;
        // The watchdog runs the server and stops it once this process (its parent) is gone,
        // or when it is itself asked to stop.
        let watchdog = r#"parent=$1; shift
"$@" & child=$!
trap 'kill "$child" 2>/dev/null; wait "$child"; exit 0' TERM INT
while kill -0 "$parent" 2>/dev/null && kill -0 "$child" 2>/dev/null; do sleep 0.5; done
kill "$child" 2>/dev/null
wait "$child""#;
        let child = Command::new("sh")
            .arg("-c")
            .arg(watchdog)
            .arg("llama-watchdog")
            .arg(std::process::id().to_string())
            .arg(server)
            .arg("-m")
            .arg(model)
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args([
                "--alias",
                LOCAL_MODEL,
                "--ctx-size",
                "8192",
                "--parallel",
                "4",
            ])
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", server.display()))?;
        let mut me = LocalServer {
            base_url: format!("http://{addr}/v1"),
            log,
            keep_log: false,
            child,
        };
        let started = Instant::now();
        loop {
            if tokio::task::spawn_blocking(move || health(addr))
                .await
                .ok()
                .flatten()
                == Some(200)
            {
                return Ok(me);
            }
            if let Ok(Some(status)) = me.child.try_wait() {
                me.keep_log = true;
                return Err(format!(
                    "llama-server exited ({status}) before it was ready; see {}",
                    me.log.display()
                ));
            }
            if started.elapsed() > READY_DEADLINE {
                let log = me.log.display().to_string();
                me.keep_log = true;
                drop(me);
                return Err(format!(
                    "llama-server did not answer /health within {READY_DEADLINE:?}; see {log}"
                ));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

impl Drop for LocalServer {
    fn drop(&mut self) {
        // TERM to the watchdog: its trap kills the server first, then it exits.
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = Command::new("kill")
                .arg(self.child.id().to_string())
                .stderr(Stdio::null())
                .status();
        }
        if self.child.wait().is_ok_and(|s| s.success()) && !self.keep_log {
            let _ = std::fs::remove_file(&self.log);
        }
    }
}

/// The status of `GET /health`, or `None` when the server does not answer (yet).
fn health(addr: SocketAddr) -> Option<u16> {
    let timeout = Duration::from_secs(2);
    let mut s = TcpStream::connect_timeout(&addr, timeout).ok()?;
    s.set_read_timeout(Some(timeout)).ok()?;
    s.set_write_timeout(Some(timeout)).ok()?;
    s.write_all(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .ok()?;
    let mut head = [0u8; 64];
    let n = s.read(&mut head).ok()?;
    let line = std::str::from_utf8(&head[..n]).ok()?;
    line.split_whitespace().nth(1)?.parse().ok()
}
