//! `agent-os serve` and `agent-os migrate`, the real binary: it prints the bound address,
//! serves the API, stops cleanly on SIGTERM; it refuses an unauthenticated non-loopback
//! bind; `[api]` errors name their key.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn agent_os(dir: &std::path::Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_agent-os"));
    c.current_dir(dir)
        .env(
            "AOK__STORAGE__URL",
            format!("sqlite://{}/db.sqlite", dir.display()),
        )
        .env("RUST_LOG", "warn");
    c
}

fn wait_exit(child: &mut Child, within: Duration) -> Option<std::process::ExitStatus> {
    let deadline = Instant::now() + within;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn serve_prints_its_address_serves_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = agent_os(dir.path())
        .args(["serve", "--bind", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .trim()
        .strip_prefix("agent-os listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_string();

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let http = reqwest::Client::new();
        for path in ["/v1/health", "/v1/ready"] {
            let r = http.get(format!("{url}{path}")).send().await.unwrap();
            assert_eq!(r.status(), 200, "{path}");
        }
        // No tokens configured, loopback: anonymous admin.
        let r = http.get(format!("{url}/v1/agents")).send().await.unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.text().await.unwrap(), "[]");
    });

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = wait_exit(&mut child, Duration::from_secs(30)).expect("exits after SIGTERM");
    assert!(exit.success(), "clean exit: {exit:?}");
}

#[test]
fn serve_refuses_an_unauthenticated_public_bind() {
    let dir = tempfile::tempdir().unwrap();
    let out = agent_os(dir.path())
        .args(["serve", "--bind", "0.0.0.0:0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("api.tokens") && stderr.contains("allow_anonymous"),
        "{stderr}"
    );

    let out = agent_os(dir.path())
        .args(["serve", "--bind", "not-an-address"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn api_config_errors_name_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let mut f = tempfile::Builder::new()
        .suffix(".toml")
        .tempfile_in(dir.path())
        .unwrap();
    writeln!(
        f,
        "[api]\nbind = \"nowhere\"\n[[api.tokens]]\nname = \"ci\"\nrole = \"operator\"\nsha256 = \"secret-token\""
    )
    .unwrap();
    let out = agent_os(dir.path())
        .args(["config", "check"])
        .arg(f.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("api.bind"), "{stderr}");
    assert!(stderr.contains("api.tokens[0].sha256"), "{stderr}");

    let mut f = tempfile::Builder::new()
        .suffix(".toml")
        .tempfile_in(dir.path())
        .unwrap();
    writeln!(
        f,
        "[[api.tokens]]\nname = \"ci\"\nrole = \"root\"\nsha256 = \"{}\"",
        "a".repeat(64)
    )
    .unwrap();
    let out = agent_os(dir.path())
        .args(["config", "check"])
        .arg(f.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("api.tokens") && stderr.contains("root"),
        "{stderr}"
    );
}

#[test]
fn migrate_brings_the_configured_storage_up_to_date() {
    let dir = tempfile::tempdir().unwrap();
    let out = agent_os(dir.path()).arg("migrate").output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("migrated"));
    assert!(dir.path().join("db.sqlite").exists());
}
