//! The bubblewrap sandbox, for real: output and workspace writes come through; writes outside
//! the workspace, a connection to a port on the host's 127.0.0.1, a fork bomb, a memory bomb and
//! a command past its wall time (with its grandchildren) are stopped; output is capped. Needs
//! `bwrap` (`scripts/setup-bubblewrap.sh`); the tests fail, loudly, without it.

use std::time::Duration;

use agent_os_kernel::security::policy::ResourceLimits;
use agent_os_kernel::security::sandbox::{RunSpec, Sandbox, SandboxError};

fn sandbox() -> Sandbox {
    Sandbox::detect().unwrap_or_else(|e| panic!("{e} — run scripts/setup-bubblewrap.sh"))
}

fn workspace() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    // The sandbox may drop to `nobody`, which must reach the workspace.
    let _ = std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o777),
    );
    dir
}

fn limits(f: impl FnOnce(&mut ResourceLimits)) -> ResourceLimits {
    let mut l = ResourceLimits::default();
    f(&mut l);
    l
}

#[tokio::test]
async fn output_and_workspace_writes_come_through() {
    let ws = workspace();
    let spec = RunSpec::new("sh", ws.path()).args(["-c", "echo hello; echo made > out.txt; pwd"]);
    let out = sandbox().run(&spec).await.unwrap();
    assert!(out.success(), "{out:?}");
    assert_eq!(out.stdout.text(), "hello\n/workspace\n");
    assert_eq!(
        std::fs::read_to_string(ws.path().join("out.txt")).unwrap(),
        "made\n"
    );
    let py = RunSpec::new("python3", ws.path()).args(["-c", "print(6 * 7)"]);
    assert_eq!(sandbox().run(&py).await.unwrap().stdout.text(), "42\n");
}

#[tokio::test]
async fn writing_outside_the_workspace_fails() {
    let ws = workspace();
    let id = std::process::id();
    let target = std::path::PathBuf::from(format!("/var/tmp/aok-escape-{id}"));
    let private = format!("aok-private-{id}");
    let script = format!(
        "echo x > /usr/escape; echo x > /etc/escape; echo x > {}; echo x > /tmp/{private}; ls /tmp",
        target.display()
    );
    let out = sandbox()
        .run(&RunSpec::new("sh", ws.path()).args(["-c", &script]))
        .await
        .unwrap();
    assert!(!std::path::Path::new("/usr/escape").exists());
    assert!(!std::path::Path::new("/etc/escape").exists());
    assert!(
        !target.exists(),
        "the host's /var/tmp is not in the sandbox"
    );
    assert!(
        out.stderr.text().contains("Read-only file system"),
        "{out:?}"
    );
    assert_eq!(
        out.stdout.text(),
        format!("{private}\n"),
        "a private, empty /tmp"
    );
    assert!(
        !std::path::Path::new("/tmp").join(&private).exists(),
        "not the host's /tmp"
    );
}

#[tokio::test]
async fn no_network_unless_allowed() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for s in listener.incoming() {
            drop(s);
        }
    });
    let ws = workspace();
    let code = format!(
        "import socket\ntry:\n  socket.create_connection(('127.0.0.1', {port}), 2); print('connected')\nexcept OSError as e:\n  print('refused', e)"
    );
    let mut spec = RunSpec::new("python3", ws.path()).args(["-c", &code]);
    let out = sandbox().run(&spec).await.unwrap();
    assert!(out.stdout.text().starts_with("refused"), "{out:?}");
    spec.network = true;
    let out = sandbox().run(&spec).await.unwrap();
    assert_eq!(out.stdout.text(), "connected\n", "{out:?}");
}

#[tokio::test]
async fn a_fork_bomb_is_held_by_the_process_limit_and_killed_at_its_wall_time() {
    let ws = workspace();
    let mut spec = RunSpec::new("python3", ws.path()).args([
        "-c",
        "import os, time\nn = 0\nwhile True:\n  try:\n    if os.fork() == 0:\n      time.sleep(60)\n    n += 1\n  except OSError:\n    print('limited after', n, flush=True)\n    time.sleep(60)",
    ]);
    spec.limits = limits(|l| {
        l.processes = 32;
        l.wall_ms = 1500;
    });
    let out = sandbox().run(&spec).await.unwrap();
    assert!(out.timed_out, "{out:?}");
    assert!(out.stdout.text().starts_with("limited after"), "{out:?}");
    assert!(out.elapsed < Duration::from_secs(10));
}

#[tokio::test]
async fn a_memory_bomb_fails_inside_its_limit() {
    let ws = workspace();
    let mut spec =
        RunSpec::new("python3", ws.path()).args(["-c", "x = bytearray(2 << 30)\nprint('got it')"]);
    spec.limits = limits(|l| l.memory_bytes = 256 << 20);
    let out = sandbox().run(&spec).await.unwrap();
    assert!(!out.success());
    assert!(out.stderr.text().contains("MemoryError"), "{out:?}");
}

#[tokio::test]
async fn a_command_past_its_wall_time_is_killed_with_its_grandchildren() {
    let ws = workspace();
    let marker = format!("aok-grandchild-{}", std::process::id());
    // A grandchild whose command line carries the marker (sh → sh → python3).
    let script = format!("sh -c 'python3 -c \"import time; time.sleep(300)\" {marker}' & wait");
    let mut spec = RunSpec::new("sh", ws.path()).args(["-c", &script]);
    spec.limits = limits(|l| l.wall_ms = 500);
    let out = sandbox().run(&spec).await.unwrap();
    assert!(out.timed_out);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let alive = std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| std::fs::read(e.ok()?.path().join("cmdline")).ok())
        .any(|c| String::from_utf8_lossy(&c).contains(&marker));
    assert!(!alive, "a grandchild survived the kill");
}

#[tokio::test]
async fn output_is_capped_and_counted() {
    let ws = workspace();
    let mut spec = RunSpec::new("python3", ws.path()).args(["-c", "print('x' * 100000)"]);
    spec.limits = limits(|l| l.output_bytes = 1000);
    let out = sandbox().run(&spec).await.unwrap();
    assert_eq!(out.stdout.bytes.len(), 1000);
    assert_eq!(out.stdout.truncated, 100_001 - 1000);
}

#[test]
fn a_missing_bwrap_is_a_clear_error() {
    let err = Sandbox::detect_in(std::ffi::OsStr::new("/nonexistent")).unwrap_err();
    assert!(matches!(err, SandboxError::Missing));
    assert!(
        err.to_string().contains("apt-get install bubblewrap"),
        "{err}"
    );
}

#[tokio::test]
async fn one_workspaces_fork_bomb_does_not_starve_another_sandbox() {
    let (a, b) = (workspace(), workspace());
    let mut bomb = RunSpec::new("python3", a.path()).args([
        "-c",
        "import os, time\nwhile True:\n  try:\n    os.fork()\n  except OSError:\n    time.sleep(60)",
    ]);
    bomb.limits = limits(|l| {
        l.processes = 32;
        l.wall_ms = 2000;
    });
    let sb = sandbox();
    let bombing = tokio::spawn(async move { sb.run(&bomb).await });
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut quiet = RunSpec::new("sh", b.path()).args(["-c", "echo fine"]);
    quiet.limits = limits(|l| l.processes = 32);
    let out = sandbox().run(&quiet).await.unwrap();
    assert_eq!(out.stdout.text(), "fine\n", "{out:?}");
    assert!(bombing.await.unwrap().unwrap().timed_out);
}

/// The unsandboxed runner (admin agents where bubblewrap is missing): limits, the workspace
/// as working directory, a cleared environment, and the whole process group killed at the
/// wall time — but the host's file system and network.
#[tokio::test]
async fn the_unsandboxed_runner_keeps_limits_cwd_and_the_group_kill() {
    use agent_os_kernel::security::sandbox::run_unsandboxed;
    let ws = workspace();
    let spec = RunSpec::new("sh", ws.path()).args(["-c", "pwd; echo \"$SECRET\""]);
    let out = run_unsandboxed(&spec).await.unwrap();
    let real = std::fs::canonicalize(ws.path()).unwrap();
    assert_eq!(
        out.stdout.text(),
        format!("{}\n\n", real.display()),
        "{out:?}"
    );

    let mut bomb = RunSpec::new("python3", ws.path()).args(["-c", "x = bytearray(2 << 30)"]);
    bomb.limits = limits(|l| l.memory_bytes = 256 << 20);
    let out = run_unsandboxed(&bomb).await.unwrap();
    assert!(out.stderr.text().contains("MemoryError"), "{out:?}");

    let marker = format!("aok-unsandboxed-{}", std::process::id());
    let script = format!("sh -c 'python3 -c \"import time; time.sleep(300)\" {marker}' & wait");
    let mut slow = RunSpec::new("sh", ws.path()).args(["-c", &script]);
    slow.limits = limits(|l| l.wall_ms = 500);
    let out = run_unsandboxed(&slow).await.unwrap();
    assert!(out.timed_out, "{out:?}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let alive = std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| std::fs::read(e.ok()?.path().join("cmdline")).ok())
        .any(|c| String::from_utf8_lossy(&c).contains(&marker));
    assert!(!alive, "the process group was killed, grandchild included");
}
