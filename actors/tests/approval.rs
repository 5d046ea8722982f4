//! `ApprovalGate`: a sensitive tool call is held (nothing written, a notice published) until
//! an operator approves it — then it runs and its caller gets the result — or rejects it; the
//! operator's messages are JSON, as the HTTP API and the CLI send them (`Kernel::ask_json`).

mod support;

use std::time::Duration;

use agent_os_actors::{APPROVAL_TOPIC, ApprovalGate, FnWorker, GateMsg};
use agent_os_kernel::SpawnOptions;
use serde_json::{Value, json};
use support::{config, eventually, kernel_with, openai_server, text};

#[actix_rt::test]
async fn a_sensitive_call_waits_for_the_operator() {
    let (url, _seen) = openai_server(|_| text("unused")).await;
    let root = tempfile::tempdir().unwrap();
    let (k, _db) = kernel_with(config(&url, root.path())).await;
    let gate = k
        .spawn(
            ApprovalGate::new(["fs.write"]).factory(),
            SpawnOptions::new("gate"),
        )
        .json()
        .await
        .unwrap();
    // An operator console listening for notices.
    let notices = std::sync::Arc::new(std::sync::Mutex::new(Vec::<Value>::new()));
    let n = notices.clone();
    let console = FnWorker::new(move |v, _| {
        n.lock().unwrap().push(v.clone());
        Ok(Value::Null)
    });
    let console = k
        .spawn(console.factory(), SpawnOptions::new("console"))
        .await
        .unwrap();
    k.subscribe(console.pid(), APPROVAL_TOPIC);
    let file = root.path().join(gate.pid().to_string()).join("plan.txt");

    // Sensitive: held until approved.
    let g = gate.clone();
    let held = tokio::spawn(async move {
        g.call(|reply| GateMsg::Call {
            tool: "fs.write".into(),
            args: json!({"path": "plan.txt", "content": "go"}),
            reply,
        })
        .timeout(Duration::from_secs(10))
        .await
    });
    let ask = |body: Value| k.ask_json(gate.pid(), body, Duration::from_secs(5));
    assert!(eventually(2000, || notices.lock().unwrap().len() == 1).await);
    assert_eq!(notices.lock().unwrap()[0]["tool"], "fs.write");
    let pending = ask(json!("Pending")).await.unwrap();
    assert_eq!(pending[0]["id"], 1, "{pending}");
    assert_eq!(pending[0]["args"]["path"], "plan.txt");
    assert!(!file.exists(), "nothing runs before approval");
    let approved = ask(json!({"Approve": {"id": 1}})).await.unwrap();
    assert_eq!(approved["result"]["bytes"], 2, "{approved}");
    let result = held.await.unwrap().unwrap();
    assert_eq!(result.unwrap()["bytes"], 2);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "go");

    // Not sensitive: runs at once.
    let listed = gate
        .call(|reply| GateMsg::Call {
            tool: "fs.list".into(),
            args: json!({}),
            reply,
        })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(listed["entries"][0]["name"], "plan.txt", "{listed}");

    // Rejected: the caller is told why, nothing runs.
    let g = gate.clone();
    let held = tokio::spawn(async move {
        g.call(|reply| GateMsg::Call {
            tool: "fs.write".into(),
            args: json!({"path": "other.txt", "content": "no"}),
            reply,
        })
        .timeout(Duration::from_secs(10))
        .await
    });
    assert!(eventually(2000, || notices.lock().unwrap().len() == 2).await);
    let rejected = ask(json!({"Reject": {"id": 2, "reason": "not today"}}))
        .await
        .unwrap();
    assert_eq!(rejected["rejected"], "not today");
    let result = held.await.unwrap().unwrap();
    assert_eq!(result, Err("rejected: not today".to_string()));
    assert!(!file.with_file_name("other.txt").exists());
    assert_eq!(ask(json!("Pending")).await.unwrap(), json!([]));
    let err = ask(json!({"Approve": {"id": 9}})).await.unwrap_err();
    assert!(err.to_string().contains("no held call 9"), "{err}");
    k.shutdown().await;
}

/// The operator's side over the kernel's HTTP API (`POST /v1/agents/{pid}/ask`).
#[actix_rt::test]
async fn an_operator_approves_through_the_http_api() {
    use actix_web::{App, HttpServer};
    use agent_os_kernel::api::{Api, ApiConfig};

    let (url, _seen) = openai_server(|_| text("unused")).await;
    let root = tempfile::tempdir().unwrap();
    let (k, _db) = kernel_with(config(&url, root.path())).await;
    let gate = k
        .spawn(
            ApprovalGate::new(["fs.write"]).factory(),
            SpawnOptions::new("gate"),
        )
        .json()
        .await
        .unwrap();
    let api = Api::new(k.clone(), ApiConfig::default());
    let server = HttpServer::new(move || App::new().configure(api.routes()))
        .workers(1)
        .disable_signals()
        .bind(("127.0.0.1", 0))
        .unwrap();
    let addr = server.addrs()[0];
    let server = server.run();
    let handle = server.handle();
    actix_rt::spawn(server);

    let g = gate.clone();
    let held = tokio::spawn(async move {
        g.call(|reply| GateMsg::Call {
            tool: "fs.write".into(),
            args: json!({"path": "via-api.txt", "content": "ok"}),
            reply,
        })
        .timeout(Duration::from_secs(10))
        .await
    });
    let http = reqwest::Client::new();
    let ask = |message: Value| {
        http.post(format!("http://{addr}/v1/agents/{}/ask", gate.pid()))
            .json(&json!({ "message": message }))
            .send()
    };
    let mut pending = Value::Null;
    for _ in 0..100 {
        pending = ask(json!("Pending")).await.unwrap().json().await.unwrap();
        if pending.to_string().contains("via-api.txt") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(pending.to_string().contains("via-api.txt"), "{pending}");
    let res = ask(json!({"Approve": {"id": 1}})).await.unwrap();
    assert_eq!(res.status().as_u16(), 200);
    let body: Value = res.json().await.unwrap();
    assert!(body.to_string().contains("\"bytes\":2"), "{body}");
    assert_eq!(held.await.unwrap().unwrap().unwrap()["bytes"], 2);
    let file = root.path().join(gate.pid().to_string()).join("via-api.txt");
    assert_eq!(std::fs::read_to_string(file).unwrap(), "ok");
    handle.stop(true).await;
    k.shutdown().await;
}
