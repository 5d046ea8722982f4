//! The `agent-os` binary: `config check`.

use std::io::Write;
use std::process::Command;

fn agent_os() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_agent-os"));
    c.env_remove("AOK__KERNEL__MAILBOX_CAPACITY");
    c
}

#[test]
fn config_check_prints_the_effective_config() {
    let mut f = tempfile::Builder::new().suffix(".toml").tempfile().unwrap();
    writeln!(f, "[kernel]\nmailbox_capacity = 77").unwrap();
    let out = agent_os()
        .args(["config", "check"])
        .arg(f.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("mailbox_capacity = 77"), "{stdout}");
    assert!(stdout.contains("[supervisor]"), "{stdout}");
}

#[test]
fn config_check_reports_errors_with_key_and_source() {
    let mut f = tempfile::Builder::new().suffix(".toml").tempfile().unwrap();
    writeln!(f, "[kernel]\nmailbox_capacity = 0").unwrap();
    let out = agent_os()
        .args(["config", "check"])
        .arg(f.path())
        .env("AOK__SUPERVISOR__PERIOD_MS", "soon")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("supervisor.period_ms") && stderr.contains("AOK__SUPERVISOR__PERIOD_MS"),
        "{stderr}"
    );
}
