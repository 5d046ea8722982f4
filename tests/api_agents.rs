//! The HTTP API's agent and message endpoints against a real kernel and a real server:
//! success, validation errors naming the field, 404 for unknown agents (never 200).

mod api_support;
mod common;

use api_support::*;
use serde_json::json;

#[actix_rt::test]
async fn spawn_list_get_stop_and_kill() {
    let api = start().await;
    let types = api.get("/v1/agent-types", VIEWER).await;
    assert_eq!(types.status, 200);
    assert_eq!(types.body["types"], json!(["tally"]));

    let r = api
        .post(
            "/v1/agents",
            OPERATOR,
            json!({ "type": "tally", "name": "t1", "priority": 7, "mailbox": 16, "restart": "permanent" }),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["name"], "t1");
    assert_eq!(r.body["priority"], 7);
    assert_eq!(r.body["mailbox_capacity"], 16);
    assert_eq!(r.body["restart"], "permanent");
    assert_eq!(r.body["json"], true);
    let pid = r.body["pid"].as_str().unwrap().to_string();
    assert_eq!(
        r.headers.get("location").and_then(|v| v.to_str().ok()),
        Some(format!("agents/{pid}").as_str())
    );
    assert!(
        api.kernel.status(pid.parse().unwrap()).is_ok(),
        "spawned in the kernel"
    );

    let list = api.get("/v1/agents", VIEWER).await;
    assert_eq!(list.status, 200);
    assert_eq!(list.body.as_array().unwrap().len(), 1);
    assert_eq!(list.body[0]["pid"], pid.as_str());

    let one = api.get(&format!("/v1/agents/{pid}"), VIEWER).await;
    assert_eq!(one.status, 200);
    assert_eq!(one.body["name"], "t1");

    let stopped = api
        .post(
            &format!("/v1/agents/{pid}/stop"),
            OPERATOR,
            json!({ "timeout_ms": 2000 }),
        )
        .await;
    assert_eq!(stopped.status, 200, "{}", stopped.text);
    assert_eq!(stopped.body["pid"], pid.as_str());
    api.get(&format!("/v1/agents/{pid}"), VIEWER)
        .await
        .problem(404, None);
    api.post(&format!("/v1/agents/{pid}/stop"), OPERATOR, json!({}))
        .await
        .problem(404, None);

    let other = api.spawn_tally("t2").await;
    // No body at all is fine for kill and stop.
    let killed = api
        .send(
            reqwest::Method::POST,
            &format!("/v1/agents/{other}/kill"),
            Some(ADMIN),
            None,
        )
        .await;
    assert_eq!(killed.status, 200, "{}", killed.text);
    assert!(killed.body["reason"].is_string());
    api.post(&format!("/v1/agents/{other}/kill"), ADMIN, json!({}))
        .await
        .problem(404, None);
    api.stop().await;
}

#[actix_rt::test]
async fn spawn_validation_names_the_field() {
    let api = start().await;
    let spawn = |body| api.post("/v1/agents", OPERATOR, body);
    spawn(json!({ "type": "tally" }))
        .await
        .problem(400, Some("name"));
    spawn(json!({ "name": "x" }))
        .await
        .problem(400, Some("type"));
    spawn(json!({ "type": "tally", "name": "x", "priority": "high" }))
        .await
        .problem(400, Some("priority"));
    spawn(json!({ "type": "tally", "name": "x", "priority": 101 }))
        .await
        .problem(400, Some("priority"));
    spawn(json!({ "type": "tally", "name": "x", "priority": -1 }))
        .await
        .problem(400, Some("priority"));
    spawn(json!({ "type": "tally", "name": "x", "mailbox": 0 }))
        .await
        .problem(400, Some("mailbox"));
    spawn(json!({ "type": "tally", "name": "x", "restart": "sometimes" }))
        .await
        .problem(400, Some("restart"));
    spawn(json!({ "type": "tally", "name": "" }))
        .await
        .problem(400, Some("name"));
    spawn(json!({ "type": "nope", "name": "x" }))
        .await
        .problem(400, Some("type"));
    spawn(json!({ "type": "tally", "name": "x", "colour": "red" }))
        .await
        .problem(400, Some("colour"));
    spawn(json!({ "type": "tally", "name": "x", "stop_timeout_ms": 0 }))
        .await
        .problem(400, Some("stop_timeout_ms"));
    spawn(json!({ "type": "tally", "name": "x", "stop_timeout_ms": u64::MAX }))
        .await
        .problem(400, Some("stop_timeout_ms"));
    spawn(json!({ "type": "tally", "name": "x", "context_budget": 0 }))
        .await
        .problem(400, Some("context_budget"));
    spawn(json!([1, 2])).await.problem(400, None);
    assert!(api.kernel.list().is_empty(), "nothing was spawned");
    api.stop().await;
}

#[actix_rt::test]
async fn tell_and_ask_json_agents() {
    let api = start().await;
    let pid = api.spawn_tally("t").await;
    let r = api
        .post(
            &format!("/v1/agents/{pid}/tell"),
            OPERATOR,
            json!({ "message": { "add": 5 } }),
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.text);
    assert_eq!(r.body["queued"], true);

    let r = api
        .post(
            &format!("/v1/agents/{pid}/ask"),
            OPERATOR,
            json!({ "message": { "add": 2 }, "timeout_ms": 5000 }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.body["reply"], 7,
        "the tell was handled first (mailbox order)"
    );

    // The agent's own error: 422, not 500.
    api.post(
        &format!("/v1/agents/{pid}/ask"),
        OPERATOR,
        json!({ "message": "fail" }),
    )
    .await
    .problem(422, None);

    // A body of the wrong shape for the agent never reaches it.
    api.post(
        &format!("/v1/agents/{pid}/tell"),
        OPERATOR,
        json!({ "message": { "add": "x" } }),
    )
    .await
    .problem(400, Some("message"));
    api.post(
        &format!("/v1/agents/{pid}/ask"),
        OPERATOR,
        json!({ "message": 12 }),
    )
    .await
    .problem(400, Some("message"));
    api.post(&format!("/v1/agents/{pid}/tell"), OPERATOR, json!({}))
        .await
        .problem(400, Some("message"));
    api.post(
        &format!("/v1/agents/{pid}/ask"),
        OPERATOR,
        json!({ "message": { "add": 1 }, "timeout_ms": 0 }),
    )
    .await
    .problem(400, Some("timeout_ms"));
    api.post(
        &format!("/v1/agents/{pid}/ask"),
        OPERATOR,
        json!({ "message": { "add": 1 }, "timeout_ms": "soon" }),
    )
    .await
    .problem(400, Some("timeout_ms"));
    api.post(
        &format!("/v1/agents/{pid}/ask"),
        OPERATOR,
        json!({ "message": { "add": 1 }, "timeout_ms": 1_000_000_000u64 }),
    )
    .await
    .problem(400, Some("timeout_ms"));
    api.post(
        &format!("/v1/agents/{pid}/tell"),
        OPERATOR,
        json!({ "message": { "add": 1 }, "delivery_id": "" }),
    )
    .await
    .problem(400, Some("delivery_id"));

    let r = api
        .post(
            &format!("/v1/agents/{pid}/ask"),
            OPERATOR,
            json!({ "message": { "add": 0 } }),
        )
        .await;
    assert_eq!(
        r.body["reply"], 7,
        "none of the refused messages was handled"
    );

    // A durable tally takes delivery ids: the same id twice is handled once.
    let r = api
        .post(
            "/v1/agents",
            OPERATOR,
            json!({ "type": "tally", "name": "d", "durable": true }),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let durable = r.body["pid"].as_str().unwrap().to_string();
    for expected in [true, false] {
        let r = api
            .post(
                &format!("/v1/agents/{durable}/tell"),
                OPERATOR,
                json!({ "message": { "add": 3 }, "delivery_id": "m-1" }),
            )
            .await;
        assert_eq!(r.status, 202, "{}", r.text);
        assert_eq!(r.body["queued"], expected);
    }
    let r = api
        .post(
            &format!("/v1/agents/{durable}/ask"),
            OPERATOR,
            json!({ "message": { "add": 0 } }),
        )
        .await;
    assert_eq!(r.body["reply"], 3);
    api.stop().await;
}

#[actix_rt::test]
async fn unknown_and_malformed_pids() {
    let api = start().await;
    let nobody = unknown_pid();
    api.get(&format!("/v1/agents/{nobody}"), VIEWER)
        .await
        .problem(404, None);
    api.post(
        &format!("/v1/agents/{nobody}/tell"),
        OPERATOR,
        json!({ "message": { "add": 1 } }),
    )
    .await
    .problem(404, None);
    api.post(
        &format!("/v1/agents/{nobody}/ask"),
        OPERATOR,
        json!({ "message": { "add": 1 } }),
    )
    .await
    .problem(404, None);
    api.post(&format!("/v1/agents/{nobody}/stop"), OPERATOR, json!({}))
        .await
        .problem(404, None);
    api.post(&format!("/v1/agents/{nobody}/kill"), ADMIN, json!({}))
        .await
        .problem(404, None);
    for path in [
        "",
        "/context",
        "/pages",
        "/policy",
        "/usage",
        "/checkpoints",
    ] {
        api.get(&format!("/v1/agents/{nobody}{path}"), VIEWER)
            .await
            .problem(404, None);
        api.get(&format!("/v1/agents/not-a-pid{path}"), VIEWER)
            .await
            .problem(400, Some("pid"));
    }
    api.post(
        &format!("/v1/agents/{nobody}/checkpoints"),
        OPERATOR,
        json!({}),
    )
    .await
    .problem(404, None);
    api.post("/v1/agents/12345/kill", ADMIN, json!({}))
        .await
        .problem(400, Some("pid"));
    api.stop().await;
}
