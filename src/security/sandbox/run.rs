//! Running one command in bubblewrap.

use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt;
use tokio::process::Command;

use crate::security::policy::ResourceLimits;
use crate::security::sandbox::output::{Captured, capture};

/// A root kernel runs each workspace's sandboxes as its own uid from this range, so that one
/// agent's fork bomb spends its own process limit, not every sandbox's.
const FIRST_UID: u32 = 200_000;
const UIDS: u32 = 60_000;

/// The uid (and gid) of a workspace's sandboxes: stable for the workspace (its files keep one
/// owner), distinct across workspaces but for hash collisions.
fn sandbox_uid(workspace: &Path) -> u32 {
    let digest = crate::digest::sha256_hex(workspace.as_os_str().as_encoded_bytes());
    let n = u32::from_str_radix(&digest[..8], 16).unwrap_or(0);
    FIRST_UID + n % UIDS
}

/// Gives `path` — a file the kernel just wrote for an agent, and the directories it created
/// on the way, up to the workspace — to the workspace's sandbox uid when the kernel runs as
/// root, so that the agent's sandboxed code can change what its file tools wrote. Nothing to
/// do otherwise (the kernel's uid owns both).
pub(crate) fn hand_over(workspace: &Path, path: &Path) {
    if !euid_is_root() {
        return;
    }
    let uid = sandbox_uid(workspace);
    let Ok(home) = std::fs::canonicalize(workspace) else {
        return;
    };
    for step in path.ancestors() {
        if step == home || !step.starts_with(&home) {
            break;
        }
        if let Err(e) = std::os::unix::fs::lchown(step, Some(uid), Some(uid)) {
            tracing::warn!(path = %step.display(), error = %e, "could not hand a file to the sandbox uid");
            break;
        }
    }
}

/// Why a sandboxed run could not happen.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SandboxError {
    /// `bwrap` is not installed.
    #[error(
        "the sandbox needs bubblewrap (`bwrap`), which is not installed: `apt-get install bubblewrap` (Debian/Ubuntu) or `dnf install bubblewrap`; code tools refuse to run without it unless the policy allows unsandboxed runs (level admin, security.allow_unsandboxed)"
    )]
    Missing,
    /// The workspace is not a directory.
    #[error("workspace `{0}` is not a directory")]
    Workspace(PathBuf),
    /// Starting or waiting for `bwrap` failed.
    #[error("the sandbox could not run `{program}`: {source}")]
    Io {
        /// The command.
        program: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
}

/// One command to run.
#[derive(Debug, Clone)]
pub struct RunSpec {
    /// The program (a path inside the sandbox, or a name looked up on its `PATH`).
    pub program: String,
    /// Its arguments.
    pub args: Vec<String>,
    /// The agent's workspace, mounted read-write at `/workspace` (the working directory).
    pub workspace: PathBuf,
    /// Share the host's network (default: its own empty network namespace).
    pub network: bool,
    /// Limits (0 = none of that kind).
    pub limits: ResourceLimits,
    /// Bytes for its stdin.
    pub stdin: Option<Vec<u8>>,
    /// Environment variables (nothing else is inherited but `PATH`, `HOME`, `LANG`).
    pub env: Vec<(String, String)>,
}

impl RunSpec {
    /// `program args…` in `workspace`, no network, default limits.
    pub fn new(program: impl Into<String>, workspace: impl Into<PathBuf>) -> Self {
        RunSpec {
            program: program.into(),
            args: Vec::new(),
            workspace: workspace.into(),
            network: false,
            limits: ResourceLimits::default(),
            stdin: None,
            env: Vec::new(),
        }
    }

    /// Adds arguments.
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }
}

/// How a sandboxed run ended.
#[derive(Debug, Clone)]
pub struct RunOutput {
    /// The exit code, if it exited.
    pub code: Option<i32>,
    /// The signal that ended it, if one did.
    pub signal: Option<i32>,
    /// Killed at the wall-time limit.
    pub timed_out: bool,
    /// Its stdout (capped).
    pub stdout: Captured,
    /// Its stderr (capped).
    pub stderr: Captured,
    /// How long it ran.
    pub elapsed: Duration,
}

impl RunOutput {
    /// Exited with code 0.
    pub fn success(&self) -> bool {
        self.code == Some(0) && !self.timed_out
    }
}

/// The bubblewrap runner.
#[derive(Debug, Clone)]
pub struct Sandbox {
    bwrap: PathBuf,
}

impl Sandbox {
    /// Finds `bwrap` on the `PATH` ([`SandboxError::Missing`] if it is not there).
    pub fn detect() -> Result<Sandbox, SandboxError> {
        Sandbox::detect_in(&std::env::var_os("PATH").unwrap_or_default())
    }

    /// Finds `bwrap` in these directories (a `PATH`-style list).
    pub fn detect_in(path: &std::ffi::OsStr) -> Result<Sandbox, SandboxError> {
        std::env::split_paths(path)
            .map(|d| d.join("bwrap"))
            .find(|p| p.is_file())
            .map(|bwrap| Sandbox { bwrap })
            .ok_or(SandboxError::Missing)
    }

    /// The arguments bubblewrap gets for `spec` (before `--` and the command).
    fn bwrap_args(&self, spec: &RunSpec) -> Vec<String> {
        let mut a: Vec<String> = Vec::new();
        let mut push = |xs: &[&str]| a.extend(xs.iter().map(|s| (*s).to_string()));
        push(&["--ro-bind", "/usr", "/usr"]);
        for (link, target) in [
            ("/bin", "usr/bin"),
            ("/sbin", "usr/sbin"),
            ("/lib", "usr/lib"),
            ("/lib64", "usr/lib64"),
        ] {
            if Path::new(link).is_symlink() {
                push(&["--symlink", target, link]);
            } else {
                push(&["--ro-bind-try", link, link]);
            }
        }
        push(&["--ro-bind", "/etc", "/etc"]);
        push(&["--tmpfs", "/tmp", "--proc", "/proc", "--dev", "/dev"]);
        let ws = spec.workspace.to_string_lossy().to_string();
        a.extend(["--bind".to_string(), ws, "/workspace".to_string()]);
        let mut push = |xs: &[&str]| a.extend(xs.iter().map(|s| (*s).to_string()));
        push(&["--chdir", "/workspace", "--unshare-all"]);
        if spec.network {
            push(&["--share-net"]);
        }
        push(&[
            "--die-with-parent",
            "--new-session",
            "--hostname",
            "sandbox",
            "--clearenv",
        ]);
        push(&["--setenv", "PATH", "/usr/local/bin:/usr/bin:/bin"]);
        push(&[
            "--setenv",
            "HOME",
            "/workspace",
            "--setenv",
            "LANG",
            "C.UTF-8",
        ]);
        for (k, v) in &spec.env {
            a.extend(["--setenv".to_string(), k.clone(), v.clone()]);
        }
        a
    }

    /// Runs `spec` and waits for it (or for its wall-time limit, when the whole sandbox is
    /// killed).
    pub async fn run(&self, spec: &RunSpec) -> Result<RunOutput, SandboxError> {
        // Bubblewrap's first fork can meet EAGAIN after many sandboxes of the same uid ended
        // within a second or two: the kernel releases a finished user namespace's process
        // count asynchronously (measured: 63 back-to-back runs under a limit of 64 fail the
        // 63rd; two seconds later they pass). That is not the command's failure: wait and try
        // again, for up to two seconds.
        let mut tries = 0u32;
        loop {
            let out = self.run_once(spec).await?;
            let transient = out.code == Some(1)
                && out.stdout.bytes.is_empty()
                && out
                    .stderr
                    .text()
                    .starts_with("bwrap: Can't fork for pid 1: Resource temporarily unavailable");
            if !transient || tries >= 40 {
                return Ok(out);
            }
            tries += 1;
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn run_once(&self, spec: &RunSpec) -> Result<RunOutput, SandboxError> {
        let mut cmd = command(spec, Some(self))?;
        cmd.arg(&spec.program).args(&spec.args);
        // Killing bubblewrap kills the sandbox's first process (`--die-with-parent`), and with
        // it its PID namespace: every descendant, grandchildren included.
        execute(cmd, spec, false).await
    }
}

/// Runs `spec` **without** the sandbox — only for agents whose policy allows it (level admin,
/// `security.allow_unsandboxed`) on a host without bubblewrap: the same limits (prlimit), the
/// same uid drop as root, the workspace as working directory, a cleared environment, and at
/// the wall time the whole process group is killed. Nothing else is isolated: the file system
/// and the network are the host's.
pub async fn run_unsandboxed(spec: &RunSpec) -> Result<RunOutput, SandboxError> {
    let mut cmd = command(spec, None)?;
    cmd.arg(&spec.program)
        .args(&spec.args)
        .current_dir(&spec.workspace)
        .env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .env("HOME", &spec.workspace)
        .env("LANG", "C.UTF-8")
        .envs(spec.env.iter().map(|(k, v)| (k, v)));
    execute(cmd, spec, true).await
}

/// `prlimit [limits] -- [setpriv … --] [bwrap … --]`, ready for the program and its arguments.
fn command(spec: &RunSpec, sandbox: Option<&Sandbox>) -> Result<Command, SandboxError> {
    if !spec.workspace.is_dir() {
        return Err(SandboxError::Workspace(spec.workspace.clone()));
    }
    let root = euid_is_root();
    let uid = sandbox_uid(&spec.workspace);
    if root {
        // The run's uid must be able to write its workspace.
        let _ = std::os::unix::fs::chown(&spec.workspace, Some(uid), Some(uid));
    }
    let limits = spec.limits;
    // Limits and the uid change are applied by util-linux's `prlimit` and `setpriv`, which
    // exec the next program in turn: the child we wait for is the last of the chain.
    let mut cmd = Command::new("prlimit");
    for (flag, v) in [
        ("--as", limits.memory_bytes),
        ("--cpu", limits.cpu_seconds),
        ("--nproc", limits.processes),
        ("--fsize", limits.file_size_bytes),
    ] {
        if v > 0 {
            cmd.arg(format!("{flag}={v}"));
        }
    }
    cmd.arg("--core=0").arg("--");
    if root {
        let id = uid.to_string();
        cmd.args([
            "setpriv",
            "--reuid",
            &id,
            "--regid",
            &id,
            "--clear-groups",
            "--",
        ]);
    }
    if let Some(sandbox) = sandbox {
        cmd.arg(&sandbox.bwrap)
            .args(sandbox.bwrap_args(spec))
            .arg("--");
    }
    cmd.stdin(if spec.stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .kill_on_drop(true)
    .process_group(0);
    Ok(cmd)
}

/// Starts `cmd`, feeds stdin, captures capped output, enforces the wall time (killing the
/// child, or its whole process group when `group` is set), and reports how it ended.
async fn execute(mut cmd: Command, spec: &RunSpec, group: bool) -> Result<RunOutput, SandboxError> {
    let io = |source| SandboxError::Io {
        program: spec.program.clone(),
        source,
    };
    let limits = spec.limits;
    let started = Instant::now();
    let mut child = cmd.spawn().map_err(io)?;
    if let (Some(bytes), Some(mut stdin)) = (spec.stdin.clone(), child.stdin.take()) {
        tokio::spawn(async move {
            let _ = stdin.write_all(&bytes).await;
        });
    }
    let cap = limits.output_bytes;
    let out = child.stdout.take().map(|s| tokio::spawn(capture(s, cap)));
    let err = child.stderr.take().map(|s| tokio::spawn(capture(s, cap)));
    let pgid = child.id();
    let wall = (limits.wall_ms > 0).then(|| Duration::from_millis(limits.wall_ms));
    let (status, timed_out) = match wall {
        Some(w) => match tokio::time::timeout(w, child.wait()).await {
            Ok(s) => (s.map_err(io)?, false),
            Err(_) => {
                if let (true, Some(pg)) = (group, pgid) {
                    let _ = Command::new("kill")
                        .args(["-KILL", "--", &format!("-{pg}")])
                        .status()
                        .await;
                }
                let _ = child.start_kill();
                (child.wait().await.map_err(io)?, true)
            }
        },
        None => (child.wait().await.map_err(io)?, false),
    };
    let stdout = match out {
        Some(h) => h.await.unwrap_or_default(),
        None => Captured::default(),
    };
    let stderr = match err {
        Some(h) => h.await.unwrap_or_default(),
        None => Captured::default(),
    };
    Ok(RunOutput {
        code: status.code(),
        signal: status.signal(),
        timed_out,
        stdout,
        stderr,
        elapsed: started.elapsed(),
    })
}

/// Whether this process runs as root (the owner of `/proc/self` is its effective uid).
fn euid_is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}
