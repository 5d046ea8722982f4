//! A property-based run against the API's own OpenAPI document: schemathesis (from PyPI,
//! installed by `scripts/setup-schemathesis.sh`) generates requests for every operation from
//! the document — valid ones and invalid ones — as the admin, and checks that no response is a
//! 5xx. Bounded: a fixed number of examples per operation, a fixed seed. The event stream is
//! left out (it never ends by design; `api_events` tests it).

mod api_support;
mod common;

use std::path::PathBuf;

use api_support::*;

fn st() -> PathBuf {
    let dir = std::env::var("AOK_SCHEMATHESIS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            PathBuf::from(std::env::var("HOME").unwrap_or_default())
                .join(".cache/agent-os/schemathesis")
        });
    let st = dir.join("bin/st");
    assert!(
        st.is_file(),
        "{} is missing: run scripts/setup-schemathesis.sh",
        st.display()
    );
    st
}

#[actix_rt::test]
async fn no_generated_request_gets_a_5xx() {
    let st = st();
    let api = start().await;
    // A live agent, so operations on agents also reach past the 404.
    let _tally = api.spawn_tally("fuzzed").await;
    let reports = tempfile::tempdir().unwrap();
    let run = tokio::process::Command::new(&st)
        .arg("run")
        .arg(format!("{}/v1/openapi.json", api.base))
        .args(["--url", &api.base])
        .args(["--checks", "not_a_server_error"])
        .args(["--max-examples", "25", "--seed", "20261130"])
        .args(["--exclude-path", "/v1/events"])
        .args(["--request-timeout", "20", "--workers", "2"])
        .args(["--header", &format!("Authorization: Bearer {ADMIN}")])
        .arg("--report-dir")
        .arg(reports.path())
        .args(["--report", "junit"])
        .env("NO_COLOR", "1")
        .output()
        .await
        .expect("schemathesis runs");
    let stdout = String::from_utf8_lossy(&run.stdout);
    println!("{stdout}");
    assert!(
        run.status.success(),
        "schemathesis found server errors (exit {:?}):\n{stdout}\n{}",
        run.status.code(),
        String::from_utf8_lossy(&run.stderr)
    );
    // It really exercised the API: the junit report lists the operations it ran.
    let junit = std::fs::read_dir(reports.path())
        .unwrap()
        .flatten()
        .find(|e| e.path().extension().is_some_and(|x| x == "xml"))
        .map(|e| std::fs::read_to_string(e.path()).unwrap())
        .expect("a junit report");
    let cases = junit.matches("<testcase").count();
    assert!(cases >= 20, "{cases} operations tested:\n{junit}");
    api.stop().await;
}
