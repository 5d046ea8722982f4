//! The admin page in real headless Chromium (Debian's `chromium` and `chromium-driver`,
//! installed by scripts/setup-chromium.sh), driven over the W3C WebDriver protocol: open
//! `/os/ui`, enter the admin token, see an agent spawned through the API appear live, open
//! it, kill it with the button (accepting the confirmation), see it marked terminated, verify
//! the audit chain from the audit view, and save screenshots to `target/ui-artifacts/`. Also:
//! a viewer's Kill refused plainly, and the stream resumed with `Last-Event-ID` after a drop.

mod api_support;
mod common;
mod ui_support;

use std::time::Duration;

use api_support::*;
use serde_json::json;
use ui_support::{Driver, Session};

const WAIT: Duration = Duration::from_secs(20);

/// Enters `token` and waits until the page's event stream is live.
async fn use_token(s: &Session, token: &str) -> Result<(), String> {
    s.type_into("#token", token).await?;
    s.click("#token-save").await?;
    s.wait_for("the event stream to be live", WAIT, async |s| {
        Ok(s.text("#conn").await?.filter(|t| t == "live"))
    })
    .await
    .map(drop)
}

/// The scenario; an error names the step that failed.
async fn scenario(api: &TestApi, s: &Session) -> Result<(), String> {
    s.goto(&format!("{}/ui", api.base)).await?;
    let url = s.url().await?;
    if !url.ends_with("/os/ui/") {
        return Err(format!("`/os/ui` should land on `/os/ui/`, got {url}"));
    }
    // No token yet: the page says what it needs.
    s.wait_for("the page's script to run", WAIT, async |s| {
        Ok(s.text("#banner")
            .await?
            .filter(|t| t.contains("Enter a bearer token")))
    })
    .await?;

    // A wrong token is refused plainly.
    s.type_into("#token", "not-a-token").await?;
    s.click("#token-save").await?;
    s.wait_for("the 401 shown", WAIT, async |s| {
        Ok(s.text("#banner").await?.filter(|t| t.contains("401")))
    })
    .await?;

    use_token(s, ADMIN).await?;
    let kept = s
        .exec(
            "return [sessionStorage.getItem('agent-os.token'), localStorage.length];",
            json!([]),
        )
        .await?;
    if kept != json!([ADMIN, 0]) {
        return Err(format!("the token lives in sessionStorage only: {kept}"));
    }

    // Spawned from outside: the row appears, and the stream delivered the events.
    let last_event = || async {
        s.exec(
            "return document.getElementById('conn').dataset.lastEvent || null;",
            json!([]),
        )
        .await
    };
    let before = last_event().await?;
    let pid = api.spawn_tally("ui-victim").await.to_string();
    let row = format!("#agents tr[data-pid=\"{pid}\"]");
    s.wait_for("the spawned agent's row", WAIT, async |s| {
        Ok(s.text(&format!("{row} td:nth-child(2)"))
            .await?
            .filter(|t| t == "ui-victim"))
    })
    .await?;
    let state = s
        .text(&format!("{row} td.state"))
        .await?
        .unwrap_or_default();
    if state.contains("terminated") {
        return Err(format!("a fresh agent shown as {state}"));
    }
    let after = last_event().await?;
    if after.is_null() || after == before {
        return Err(format!("no event reached the page (last event id {after})"));
    }

    // Its detail, then Kill with the confirmation accepted.
    s.click(&row).await?;
    s.wait_for("the agent's detail", WAIT, async |s| {
        let shown = s.text("#detail-pid").await? == Some(pid.clone());
        let state = s.text("#detail-state").await?;
        Ok(state.filter(|_| shown))
    })
    .await?;
    // A checkpoint first: it appears in the detail's list.
    s.click("#btn-checkpoint").await?;
    s.wait_for("the checkpoint taken", WAIT, async |s| {
        Ok(s.text("#detail-result")
            .await?
            .filter(|t| t.contains("checkpoint 1 taken")))
    })
    .await?;
    s.wait_for("the checkpoint listed", WAIT, async |s| {
        Ok(s.text("#detail-checkpoints tbody tr td:nth-child(3)")
            .await?
            .filter(|t| t == "full"))
    })
    .await?;
    s.click("#btn-kill").await?;
    let question = s
        .wait_for("the kill confirmation", WAIT, async |s| {
            s.dialog_text().await
        })
        .await?;
    if !question.contains("Kill agent ui-victim") {
        return Err(format!("the confirmation names the agent: {question}"));
    }
    s.accept_dialog().await?;
    s.wait_for("the row marked terminated (killed)", WAIT, async |s| {
        Ok(s.text(&format!("{row} td.state"))
            .await?
            .filter(|t| t.contains("terminated") && t.contains("killed")))
    })
    .await?;
    s.wait_for("the detail's state to change", WAIT, async |s| {
        Ok(s.text("#detail-state")
            .await?
            .filter(|t| t.contains("killed")))
    })
    .await?;
    let exited = s
        .exec(
            "return document.querySelector(arguments[0]).classList.contains('exited');",
            json!([row]),
        )
        .await?;
    if exited != json!(true) {
        return Err("the killed agent's row is not marked exited".into());
    }
    // The kernel agrees: it is gone.
    let r = api.get(&format!("/v1/agents/{pid}"), ADMIN).await;
    if r.status != 404 {
        return Err(format!("the kernel still has the agent: {}", r.text));
    }
    let shot = s.screenshot("ui_browser_kill.png").await?;
    println!("screenshot: {}", shot.display());

    // The audit view lists the kill and verifies the chain.
    s.click("#tabs button[data-view=\"audit\"]").await?;
    s.wait_for("audit rows", WAIT, async |s| {
        let n = s
            .exec(
                "return document.querySelectorAll('#audit tbody tr').length;",
                json!([]),
            )
            .await?;
        Ok(n.as_u64().filter(|n| *n > 0))
    })
    .await?;
    let rows = s.text("#audit tbody").await?.unwrap_or_default();
    if !rows.contains("/kill") {
        return Err(format!(
            "the audit view shows the kill request: {rows:.300}"
        ));
    }
    s.click("#audit-verify").await?;
    s.wait_for("the verify result", WAIT, async |s| {
        Ok(s.text("#audit-result")
            .await?
            .filter(|t| t.contains("chain intact")))
    })
    .await?;
    let shot = s.screenshot("ui_browser_audit.png").await?;
    println!("screenshot: {}", shot.display());

    // The usage chart drew its first sample (two lines).
    s.click("#tabs button[data-view=\"usage\"]").await?;
    s.wait_for("the usage chart", WAIT, async |s| {
        let n = s
            .exec(
                "return document.querySelectorAll('#usage-chart polyline').length;",
                json!([]),
            )
            .await?;
        Ok(n.as_u64().filter(|n| *n == 2))
    })
    .await?;

    // The providers (the test's scripted backend, breaker closed) and the scheduler.
    s.click("#tabs button[data-view=\"providers\"]").await?;
    s.wait_for("the providers table", WAIT, async |s| {
        Ok(s.text("#providers tbody tr")
            .await?
            .filter(|t| t.contains("script") && t.contains("closed")))
    })
    .await?;
    s.click("#tabs button[data-view=\"scheduler\"]").await?;
    s.wait_for("the scheduler summary", WAIT, async |s| {
        Ok(s.text("#sched-summary")
            .await?
            .filter(|t| t.contains("policy") && t.contains("running of")))
    })
    .await?;

    // No script error and no CSP violation in the console.
    match s.console().await {
        Ok(entries) => {
            let bad: Vec<_> = entries
                .iter()
                .filter(|(level, msg)| {
                    level == "SEVERE"
                        && (msg.contains("Content Security Policy") || msg.contains("Uncaught"))
                })
                .collect();
            if !bad.is_empty() {
                return Err(format!("console errors: {bad:?}"));
            }
            println!(
                "console: {} entries, no script error or CSP violation",
                entries.len()
            );
        }
        Err(e) => println!("(the console log could not be read: {e})"),
    }
    Ok(())
}

/// A viewer sees the agents but its Kill is refused: the 403 is shown, the agent lives.
async fn viewer_scenario(api: &TestApi, s: &Session) -> Result<(), String> {
    let pid = api.spawn_tally("ui-survivor").await.to_string();
    s.goto(&format!("{}/ui/", api.base)).await?;
    use_token(s, VIEWER).await?;
    let row = format!("#agents tr[data-pid=\"{pid}\"]");
    s.wait_for("the agent's row (from the list)", WAIT, async |s| {
        Ok(s.text(&format!("{row} td:nth-child(2)"))
            .await?
            .filter(|t| t == "ui-survivor"))
    })
    .await?;
    s.click(&row).await?;
    s.wait_for("the agent's detail", WAIT, async |s| {
        let shown = s.text("#detail-pid").await? == Some(pid.clone());
        Ok(s.text("#detail-state").await?.filter(|_| shown))
    })
    .await?;
    s.click("#btn-kill").await?;
    s.wait_for("the kill confirmation", WAIT, async |s| {
        s.dialog_text().await
    })
    .await?;
    s.accept_dialog().await?;
    s.wait_for("the refusal next to the buttons", WAIT, async |s| {
        Ok(s.text("#detail-result")
            .await?
            .filter(|t| t.contains("kill refused: 403")))
    })
    .await?;
    s.wait_for("the 403 in the banner", WAIT, async |s| {
        Ok(s.text("#banner")
            .await?
            .filter(|t| t.contains("403 Forbidden") && t.contains("admin")))
    })
    .await?;
    let r = api.get(&format!("/v1/agents/{pid}"), VIEWER).await;
    if r.status != 200 {
        return Err(format!("the agent should be alive: {}", r.text));
    }
    let state = s
        .text(&format!("{row} td.state"))
        .await?
        .unwrap_or_default();
    if state.contains("terminated") {
        return Err(format!("a refused kill marked the agent {state}"));
    }
    Ok(())
}

/// The connection is cut (a proxy between browser and server goes down) and an agent is
/// spawned meanwhile; when the proxy is back, the page reconnects with `Last-Event-ID` and the
/// server replays the missed events.
async fn resume_scenario(api: &TestApi, s: &Session) -> Result<(), String> {
    let upstream = api
        .root
        .trim_start_matches("http://")
        .parse()
        .map_err(|e| format!("{}: {e}", api.root))?;
    let proxy = ui_support::Proxy::start(upstream).await;
    s.goto(&format!("http://{}/os/ui/", proxy.addr)).await?;
    use_token(s, VIEWER).await?;
    // An event first, so the page has a last event id to resume from.
    let first = api.spawn_tally("ui-before").await.to_string();
    let row = format!("#agents tr[data-pid=\"{first}\"] td:nth-child(2)");
    s.wait_for("the first agent's row", WAIT, async |s| {
        Ok(s.text(&row).await?.filter(|t| t == "ui-before"))
    })
    .await?;
    // Learn the id of the `spawned` event from a stream of our own (not through the proxy).
    let mut events = api
        .http
        .get(format!("{}/v1/events", api.base))
        .bearer_auth(VIEWER)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    proxy.set_down(true);
    s.wait_for("the page to see the stream drop", WAIT, async |s| {
        Ok(s.text("#conn").await?.filter(|t| t != "live"))
    })
    .await?;
    let last_event = async || {
        s.exec(
            "return document.getElementById('conn').dataset.lastEvent || null;",
            json!([]),
        )
        .await
        .map(|v| v.as_str().and_then(|v| v.parse::<u64>().ok()).unwrap_or(0))
    };
    let before = last_event().await?;
    let pid = api.spawn_tally("ui-missed").await.to_string();
    let mut buf = String::new();
    let spawned_id: u64 = loop {
        let chunk = tokio::time::timeout(WAIT, events.chunk())
            .await
            .map_err(|_| "no spawned event on the test's own stream".to_string())?
            .map_err(|e| e.to_string())?
            .ok_or("the test's stream ended")?;
        buf.push_str(&String::from_utf8_lossy(&chunk));
        let found = buf.split("\n\n").find_map(|frame| {
            let id = frame.lines().find_map(|l| l.strip_prefix("id: "))?;
            let wanted = frame.contains("event: spawned") && frame.contains(&pid);
            if wanted { id.parse().ok() } else { None }
        });
        if let Some(id) = found {
            break id;
        }
    };
    drop(events);
    if before >= spawned_id {
        return Err(format!("the page saw event {before} while cut off"));
    }
    proxy.set_down(false);
    s.wait_for(
        "the page to be live again",
        Duration::from_secs(30),
        async |s| Ok(s.text("#conn").await?.filter(|t| t == "live")),
    )
    .await?;
    // The replayed `spawned` event (and any later) advanced the page's last event id.
    s.wait_for("the missed events replayed", WAIT, async |_| {
        Ok((last_event().await? >= spawned_id).then_some(()))
    })
    .await?;
    let row = format!("#agents tr[data-pid=\"{pid}\"] td:nth-child(2)");
    s.wait_for("the missed agent's row", WAIT, async |s| {
        Ok(s.text(&row).await?.filter(|t| t == "ui-missed"))
    })
    .await?;
    Ok(())
}

/// Runs `scenario` in a fresh browser against a fresh API; on failure, saves
/// `{name}_failure.png` and panics with the step and the page's text.
async fn run<F>(name: &str, scenario: F)
where
    F: AsyncFnOnce(&TestApi, &Session) -> Result<(), String>,
{
    let driver = Driver::start().await;
    let api = start().await;
    let session = driver.session().await;
    let outcome = scenario(&api, &session).await;
    if let Err(e) = &outcome {
        let shot = session.screenshot(&format!("{name}_failure.png")).await;
        let page = session
            .text("body")
            .await
            .ok()
            .flatten()
            .unwrap_or_default();
        session.close().await;
        api.stop().await;
        panic!(
            "{e}\nfailure screenshot: {shot:?}\npage text: {}",
            page.split_whitespace().collect::<Vec<_>>().join(" ")
        );
    }
    session.close().await;
    api.stop().await;
}

#[actix_rt::test]
async fn the_admin_page_shows_a_spawned_agent_live_and_kills_it_with_the_button() {
    run("ui_browser_kill", scenario).await;
}

#[actix_rt::test]
async fn after_a_drop_the_page_resumes_the_stream_with_last_event_id() {
    run("ui_browser_resume", resume_scenario).await;
}

#[actix_rt::test]
async fn a_viewer_token_sees_the_agents_but_its_kill_is_refused_plainly() {
    run("ui_browser_viewer", viewer_scenario).await;
}
