//! The `agent-os` client commands, the real binary against a real `agent-os serve` (SQLite in
//! a temp dir, one token per role): the agent lifecycle through the built-in `echo` and `chat`
//! types, checkpoints, events, audit, top, `--json` output, and the documented exit codes.
//! The event stream's reconnection with `Last-Event-ID` is tested against a scripted SSE
//! server that drops the first connection.

mod cli_support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::time::Duration;

use cli_support::{ADMIN, OPERATOR, Server, VIEWER, agent_os, eventually};

#[test]
fn an_echo_agent_through_its_whole_life() {
    let s = Server::start();

    // spawn → its pid; ps shows it.
    let pid = s
        .cli(OPERATOR, &["spawn", "echo", "--name", "e1"])
        .ok()
        .trim()
        .to_string();
    assert_eq!(pid.len(), 36, "a pid: {pid}");
    let ps = s.cli(VIEWER, &["ps"]);
    let table = ps.ok();
    assert!(table.starts_with("PID "), "{table}");
    assert!(
        table.lines().any(|l| l.contains(&pid) && l.contains("e1")),
        "{table}"
    );
    let listed = s.cli(VIEWER, &["ps", "--json"]).json();
    assert!(
        listed
            .as_array()
            .is_some_and(|a| a.iter().any(|x| x["pid"] == pid.as_str())),
        "{listed}"
    );

    // ask → the echo (a string bare, other JSON compact; --json the server's document).
    assert_eq!(
        s.cli(OPERATOR, &["ask", &pid, r#"{"hi":[1,2]}"#])
            .ok()
            .trim(),
        r#"{"hi":[1,2]}"#
    );
    assert_eq!(
        s.cli(OPERATOR, &["ask", &pid, r#""hello""#]).ok().trim(),
        "hello"
    );
    let asked = s
        .cli(
            OPERATOR,
            &["ask", &pid, "42", "--timeout-ms", "5000", "--json"],
        )
        .json();
    assert_eq!(asked["pid"], pid.as_str());
    assert_eq!(asked["reply"], 42);

    // tell → queued; the agent handles it.
    assert_eq!(s.cli(OPERATOR, &["tell", &pid, "7"]).ok().trim(), "queued");
    let handled = eventually(Duration::from_secs(10), || {
        let v = s.cli(VIEWER, &["ps", "--json"]).json();
        let n = v.as_array()?.iter().find(|a| a["pid"] == pid.as_str())?["handled"].as_u64()?;
        (n >= 4).then_some(n)
    });
    assert!(handled.is_some(), "the told message was handled");

    // checkpoint → its id; listed (both spellings); restore → the agent's pid.
    let cp = s
        .cli(OPERATOR, &["checkpoint", &pid])
        .ok()
        .trim()
        .to_string();
    assert_eq!(cp.len(), 36, "a checkpoint id: {cp}");
    let table = s.cli(VIEWER, &["checkpoints", &pid]).ok().to_string();
    assert!(table.contains(&cp) && table.starts_with("ID "), "{table}");
    let listed = s
        .cli(VIEWER, &["checkpoint", "list", &pid, "--json"])
        .json();
    assert_eq!(listed[0]["id"], cp.as_str(), "{listed}");
    let restored = s.cli(ADMIN, &["restore", &cp]);
    assert_eq!(restored.ok().trim(), pid);
    assert_eq!(
        s.cli(OPERATOR, &["ask", &pid, r#""again""#]).ok().trim(),
        "again"
    );

    // events: the history, as JSON lines, ends by itself; --limit bounds it.
    let events = s.cli(VIEWER, &["events", "--json"]);
    let lines: Vec<serde_json::Value> = events
        .ok()
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON document per line"))
        .collect();
    assert!(
        lines
            .iter()
            .any(|e| e["event"] == "spawned" && e["data"]["pid"] == pid.as_str()),
        "{lines:?}"
    );
    assert!(
        lines.iter().any(|e| e["event"] == "checkpointed"),
        "{lines:?}"
    );
    assert!(lines.iter().all(|e| e["id"].is_u64()), "{lines:?}");
    let first = s.cli(VIEWER, &["events", "--follow", "--limit", "1", "--json"]);
    assert_eq!(first.ok().lines().count(), 1, "{first:?}");
    let since = lines[0]["id"].as_u64().expect("an id");
    let after = s.cli(
        VIEWER,
        &["events", "--since", &since.to_string(), "--limit", "1"],
    );
    assert!(
        after.ok().starts_with(&(since + 1).to_string()),
        "human lines start with the id: {after:?}"
    );

    // audit verify: intact (admin).
    assert!(s.cli(ADMIN, &["audit", "verify"]).ok().contains("intact"));
    let verified = s.cli(ADMIN, &["audit", "verify", "--json"]).json();
    assert_eq!(verified["ok"], true, "{verified}");

    // top: one refresh, human and JSON.
    let top = s.cli(VIEWER, &["top", "--iterations", "1"]);
    assert!(
        top.ok().contains("scheduler:") && top.stdout.contains(&pid),
        "{top:?}"
    );
    let frame = s
        .cli(VIEWER, &["top", "--iterations", "1", "--json"])
        .json();
    assert!(frame["agents"].is_array() && frame["scheduler"]["running"].is_u64());

    // stop → gone (404 afterwards); a second agent is killed.
    let stopped = s.cli(OPERATOR, &["stop", &pid, "--json"]).json();
    assert_eq!(stopped["pid"], pid.as_str());
    s.cli(OPERATOR, &["ask", &pid, "1"]).exits(4);
    let other = s
        .cli(
            OPERATOR,
            &["spawn", "echo", "--options", r#"{"priority":10}"#],
        )
        .ok()
        .trim()
        .to_string();
    assert!(s.cli(ADMIN, &["kill", &other]).ok().contains("exited"));
    let gone = eventually(Duration::from_secs(10), || {
        let v = s.cli(VIEWER, &["ps", "--json"]).json();
        v.as_array()?
            .iter()
            .all(|a| a["pid"] != other.as_str())
            .then_some(())
    });
    assert!(gone.is_some(), "the killed agent left the table");
}

#[test]
fn chat_answers_through_the_offline_backend() {
    let s = Server::start();
    let pid = s.cli(OPERATOR, &["spawn", "chat"]).ok().trim().to_string();
    let answer = s.cli(OPERATOR, &["ask", &pid, r#""what is an agent?""#]);
    assert!(
        answer.ok().contains("what is an agent?"),
        "the scripted backend echoes the turn: {answer:?}"
    );
    let answer = s.cli(OPERATOR, &["ask", &pid, r#"{"text":"second turn"}"#]);
    assert!(answer.ok().contains("second turn"), "{answer:?}");
    let pages = raw_http::pages(&s.url, &pid);
    assert!(
        pages >= 4,
        "system, two turns and two answers in its pages: {pages}"
    );
    // A message of the wrong shape is the server's 400 naming `message`: exit 1.
    let bad = s.cli(OPERATOR, &["ask", &pid, r#"{"txt":1}"#]);
    bad.exits(1);
    assert!(bad.stderr.contains("message"), "{bad:?}");
}

#[test]
fn optimize_reports_what_the_agents_did() {
    let s = Server::start();
    let pid = s.cli(OPERATOR, &["spawn", "chat"]).ok().trim().to_string();
    for turn in ["one", "two", "three"] {
        s.cli(OPERATOR, &["ask", &pid, &format!("{turn:?}")]).ok();
    }
    let report = s.cli(VIEWER, &["optimize"]);
    let text = report.ok();
    assert!(text.contains("steps read"), "{text}");
    let row = text
        .lines()
        .find(|l| l.starts_with("chat "))
        .unwrap_or_else(|| panic!("a row for the chat type: {text}"));
    assert!(row.split_whitespace().nth(1) == Some("3"), "3 tasks: {row}");
    assert!(text.contains("scripted"), "the backend's row: {text}");
    let json = s
        .cli(VIEWER, &["optimize", "--agent-type", "chat", "--json"])
        .json();
    assert_eq!(json["types"][0]["agent_type"], "chat", "{json}");
    assert_eq!(json["types"][0]["llm_calls"], 3, "{json}");
    let bad = s.cli(VIEWER, &["optimize", "--min-samples", "0"]);
    bad.exits(1);
    assert!(bad.stderr.contains("min_samples"), "{bad:?}");
}

/// `GET /v1/agents/{pid}/pages` with a plain HTTP/1.1 request (no async runtime needed).
mod raw_http {
    use std::io::{Read, Write};

    pub(crate) fn pages(url: &str, pid: &str) -> usize {
        let host = url.trim_start_matches("http://");
        let mut conn = std::net::TcpStream::connect(host).expect("connect");
        write!(
            conn,
            "GET /v1/agents/{pid}/pages HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {}\r\nConnection: close\r\n\r\n",
            super::VIEWER
        )
        .expect("request");
        let mut text = String::new();
        conn.read_to_string(&mut text).expect("response");
        let body = text.split("\r\n\r\n").nth(1).unwrap_or_default();
        let pages: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
        pages.as_array().map_or(0, Vec::len)
    }
}

#[test]
fn exit_codes_scripts_can_trust() {
    let s = Server::start();
    let unknown = "01a22e18-87fb-77b3-92ef-4d71fd608421";
    // 4: not found.
    for args in [
        vec!["ask", unknown, "1"],
        vec!["stop", unknown],
        vec!["checkpoints", unknown],
    ] {
        let r = s.cli(ADMIN, &args);
        r.exits(4);
        assert!(r.stderr.contains("Not found"), "{r:?}");
    }
    s.cli(ADMIN, &["restore", "01a22e18-891a-7745-85eb-bd395553765c"])
        .exits(4);
    // 5: a bad token (401), no token, a role too low (403).
    s.cli("not-a-token", &["ps"]).exits(5);
    s.cli("", &["ps"]).exits(5);
    let r = s.cli(VIEWER, &["spawn", "echo"]);
    r.exits(5);
    assert!(
        r.stderr.contains("operator"),
        "names the role needed: {r:?}"
    );
    s.cli(OPERATOR, &["audit", "verify"]).exits(5);
    // 1: the server refused the request; its problem is on stderr, naming the field.
    let r = s.cli(OPERATOR, &["spawn", "no-such-type"]);
    r.exits(1);
    assert!(r.stderr.contains("field: type"), "{r:?}");
    // 2: bad usage: unknown command, bad JSON, a malformed pid, a bad URL.
    s.cli(VIEWER, &["frobnicate"]).exits(2);
    s.cli(OPERATOR, &["tell", unknown, "{not json"]).exits(2);
    s.cli(OPERATOR, &["spawn", "echo", "--options", "[1]"])
        .exits(2);
    s.cli(OPERATOR, &["tell", "not-a-pid", "1"]).exits(2);
    s.cli(VIEWER, &["ps", "--url", "ftp://example.invalid"])
        .exits(2);
    // 3: nothing listens there.
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let r = agent_os()
        .args(["ps", "--url", &format!("http://127.0.0.1:{port}")])
        .output()
        .expect("runs");
    assert_eq!(r.status.code(), Some(3), "{r:?}");
    assert!(String::from_utf8_lossy(&r.stderr).contains("cannot reach"));
    // The codes are in --help.
    let help = agent_os().arg("--help").output().expect("runs");
    let help = String::from_utf8_lossy(&help.stdout);
    for code in [
        "0  success",
        "3  the server could not be reached",
        "5  unauthorized",
    ] {
        assert!(help.contains(code), "{help}");
    }
}

/// Reads one HTTP request's head; returns it lowercased.
fn request_head(conn: &mut std::net::TcpStream) -> String {
    let mut reader = BufReader::new(conn.try_clone().expect("clone"));
    let mut head = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).expect("read") == 0 || line == "\r\n" {
            break;
        }
        head.push_str(&line.to_ascii_lowercase());
    }
    head
}

const SSE_HEAD: &str =
    "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n";

#[test]
fn events_follow_reconnects_with_last_event_id() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let server = std::thread::spawn(move || {
        // First connection: two events, then the connection drops.
        let (mut c, _) = listener.accept().expect("first connection");
        let first = request_head(&mut c);
        write!(
            c,
            "{SSE_HEAD}: keepalive\n\nid: 10\nevent: spawned\ndata: {{\"n\":10}}\n\nid: 11\nevent: exited\ndata: {{\"n\":11}}\n\n"
        )
        .expect("write");
        drop(c);
        // Second: the client resumes after 11.
        let (mut c, _) = listener.accept().expect("second connection");
        let second = request_head(&mut c);
        write!(
            c,
            "{SSE_HEAD}id: 12\nevent: crashed\ndata: {{\"n\":12}}\n\n"
        )
        .expect("write");
        let _ = c.flush();
        // Held open until the client has what it wants and leaves.
        let mut rest = Vec::new();
        let _ = c.read_to_end(&mut rest);
        (first, second)
    });
    let out = agent_os()
        .args([
            "events", "--follow", "--limit", "3", "--json", "--url", &url,
        ])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let ids: Vec<u64> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).expect("JSON line")["id"]
                .as_u64()
                .expect("id")
        })
        .collect();
    assert_eq!(ids, [10, 11, 12], "nothing missed or repeated");
    let (first, second) = server.join().expect("server thread");
    assert!(first.contains("last-event-id: 0"), "{first}");
    assert!(second.contains("last-event-id: 11"), "{second}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("reconnecting"));
}
