//! Shared by the CLI client tests: the real `agent-os serve` binary on 127.0.0.1:0 with a temp
//! SQLite file and one token per role, and the real binary's client commands run against it.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

pub(crate) const ADMIN: &str = "cli-admin-token-0123456789";
pub(crate) const OPERATOR: &str = "cli-operator-token-0123456789";
pub(crate) const VIEWER: &str = "cli-viewer-token-0123456789";

fn digest(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The binary, with no `AOK_*` variable of the environment leaking in.
pub(crate) fn agent_os() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_agent-os"));
    for (k, _) in std::env::vars() {
        if k.starts_with("AOK_") {
            c.env_remove(k);
        }
    }
    c.env("RUST_LOG", "warn");
    c
}

/// A running `agent-os serve`; SIGTERM'd (then killed) when dropped.
pub(crate) struct Server {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub(crate) url: String,
    _dir: tempfile::TempDir,
}

impl Server {
    /// Starts the server with tokens for admin, operator and viewer and waits for its
    /// address line.
    pub(crate) fn start() -> Server {
        let dir = tempfile::tempdir().expect("temp dir");
        let config = dir.path().join("agent-os.toml");
        let mut f = std::fs::File::create(&config).expect("config file");
        write!(
            f,
            "[storage]\nurl = \"sqlite://{}/db.sqlite\"\n",
            dir.path().display()
        )
        .expect("write config");
        for (name, role, token) in [
            ("root", "admin", ADMIN),
            ("ops", "operator", OPERATOR),
            ("watch", "viewer", VIEWER),
        ] {
            write!(
                f,
                "[[api.tokens]]\nname = \"{name}\"\nrole = \"{role}\"\nsha256 = \"{}\"\n",
                digest(token)
            )
            .expect("write config");
        }
        drop(f);
        let mut child = agent_os()
            .current_dir(dir.path())
            .args(["serve", "--bind", "127.0.0.1:0", "--config"])
            .arg(&config)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("agent-os serve starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("the address line");
        let url = line
            .trim()
            .strip_prefix("agent-os listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_string();
        Server {
            child,
            url,
            _dir: dir,
        }
    }

    /// Runs `agent-os ARGS` against this server with `token` (through `AOK_URL` and
    /// `AOK_TOKEN`).
    pub(crate) fn cli(&self, token: &str, args: &[&str]) -> Run {
        Run::of(
            agent_os()
                .env("AOK_URL", &self.url)
                .env("AOK_TOKEN", token)
                .args(args)
                .output()
                .expect("agent-os runs"),
        )
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What one run of the binary did.
#[derive(Debug)]
pub(crate) struct Run {
    /// Its exit code (`None`: killed by a signal).
    pub(crate) code: Option<i32>,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

impl Run {
    fn of(out: Output) -> Run {
        Run {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Asserts exit 0 and returns stdout.
    #[track_caller]
    pub(crate) fn ok(&self) -> &str {
        assert_eq!(self.code, Some(0), "{self:#?}");
        &self.stdout
    }

    /// Asserts this exit code.
    #[track_caller]
    pub(crate) fn exits(&self, code: i32) -> &Self {
        assert_eq!(self.code, Some(code), "{self:#?}");
        self
    }

    /// Stdout parsed as one JSON document.
    #[track_caller]
    pub(crate) fn json(&self) -> serde_json::Value {
        serde_json::from_str(self.ok())
            .unwrap_or_else(|e| panic!("stdout is not one JSON document ({e}): {self:#?}"))
    }
}

/// Polls `f` until it returns `Some` or `within` passes.
pub(crate) fn eventually<T>(within: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + within;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
}
