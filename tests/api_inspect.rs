//! Checkpoints (take, list, restore, fork) and the read-only views (context, pages, policy,
//! usage, scheduler, providers, usage ledger, tools, audit) through the HTTP API.

mod api_support;
mod common;

use api_support::*;
use reqwest::Method;
use serde_json::json;

#[actix_rt::test]
async fn checkpoints_take_list_restore_and_fork() {
    let api = start().await;
    let pid = api.spawn_tally("t").await;
    let ask_path = format!("/v1/agents/{pid}/ask");
    let ask = |n: i64| api.post(&ask_path, OPERATOR, json!({ "message": { "add": n } }));
    assert_eq!(ask(5).await.body["reply"], 5);

    let ck = api
        .post(
            &format!("/v1/agents/{pid}/checkpoints"),
            OPERATOR,
            json!({}),
        )
        .await;
    assert_eq!(ck.status, 201, "{}", ck.text);
    assert_eq!(ck.body["pid"], pid.to_string());
    let id = ck.body["id"].as_str().unwrap().to_string();
    assert_eq!(ask(10).await.body["reply"], 15);

    let list = api
        .get(&format!("/v1/agents/{pid}/checkpoints"), VIEWER)
        .await;
    assert_eq!(list.status, 200);
    assert_eq!(list.body.as_array().unwrap().len(), 1);
    assert_eq!(list.body[0]["id"], id.as_str());

    let r = api
        .post(&format!("/v1/checkpoints/{id}/restore"), ADMIN, json!({}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["pid"], pid.to_string());
    assert_eq!(
        ask(0).await.body["reply"],
        5,
        "back to the checkpoint's state"
    );

    let r = api
        .post(
            &format!("/v1/checkpoints/{id}/fork"),
            ADMIN,
            json!({ "name": "copy" }),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let fork = r.body["pid"].as_str().unwrap().to_string();
    assert_ne!(fork, pid.to_string());
    let r = api.get(&format!("/v1/agents/{fork}"), VIEWER).await;
    assert_eq!(r.body["name"], "copy");
    let r = api
        .post(
            &format!("/v1/agents/{fork}/ask"),
            OPERATOR,
            json!({ "message": { "add": 1 } }),
        )
        .await;
    assert_eq!(r.body["reply"], 6, "the fork starts from the checkpoint");
    // No body: the default name.
    let r = api
        .send(
            Method::POST,
            &format!("/v1/checkpoints/{id}/fork"),
            Some(ADMIN),
            None,
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);

    // A stopped agent's checkpoints are still listed.
    assert_eq!(
        api.post(&format!("/v1/agents/{pid}/stop"), OPERATOR, json!({}))
            .await
            .status,
        200
    );
    let list = api
        .get(&format!("/v1/agents/{pid}/checkpoints"), VIEWER)
        .await;
    assert_eq!(list.status, 200);

    let unknown = uuid::Uuid::now_v7();
    api.post(
        &format!("/v1/checkpoints/{unknown}/restore"),
        ADMIN,
        json!({}),
    )
    .await
    .problem(404, None);
    api.post(&format!("/v1/checkpoints/{unknown}/fork"), ADMIN, json!({}))
        .await
        .problem(404, None);
    api.post("/v1/checkpoints/nope/restore", ADMIN, json!({}))
        .await
        .problem(400, Some("id"));
    api.post(
        &format!("/v1/checkpoints/{id}/fork"),
        ADMIN,
        json!({ "name": "" }),
    )
    .await
    .problem(400, Some("name"));
    api.post(
        &format!("/v1/checkpoints/{id}/fork"),
        ADMIN,
        json!({ "name": 3 }),
    )
    .await
    .problem(400, Some("name"));
    api.stop().await;
}

#[actix_rt::test]
async fn an_agents_context_pages_policy_and_usage() {
    let api = start().await;
    let pid = api.spawn_tally("t").await;
    api.kernel
        .pager()
        .allocate(
            pid,
            agent_os_kernel::pager::NewPage::new(
                agent_os_kernel::pager::PageKind::Task,
                "count the apples".to_string(),
            ),
        )
        .await
        .unwrap();

    let ctx = api.get(&format!("/v1/agents/{pid}/context"), VIEWER).await;
    assert_eq!(ctx.status, 200, "{}", ctx.text);
    assert_eq!(ctx.body["pid"], pid.to_string());
    assert_eq!(ctx.body["resident_pages"], 1);
    assert_eq!(ctx.body["swapped_pages"], 0);
    assert!(ctx.body["budget_tokens"].as_u64().unwrap() > 0);

    let pages = api.get(&format!("/v1/agents/{pid}/pages"), VIEWER).await;
    assert_eq!(pages.status, 200);
    assert_eq!(pages.body[0]["kind"], "task");
    assert_eq!(pages.body[0]["resident"], true);

    let policy = api.get(&format!("/v1/agents/{pid}/policy"), VIEWER).await;
    assert_eq!(policy.status, 200, "{}", policy.text);
    assert_eq!(policy.body["level"], "standard");

    let usage = api.get(&format!("/v1/agents/{pid}/usage"), VIEWER).await;
    assert_eq!(usage.status, 200);
    assert_eq!(usage.body["calls"], 0);
    api.stop().await;
}

#[actix_rt::test]
async fn scheduler_providers_usage_tools_and_audit() {
    let api = start().await;
    let s = api.get("/v1/scheduler", VIEWER).await;
    assert_eq!(s.status, 200, "{}", s.text);
    assert_eq!(s.body["policy"], "fifo");
    assert!(s.body["global_slots"].as_u64().unwrap() >= 1);
    assert!(s.body["wait_p99_ms"].is_number());

    let p = api.get("/v1/providers", VIEWER).await;
    assert_eq!(p.status, 200, "{}", p.text);
    let script = &p.body[0];
    assert_eq!(script["backend"], "script");
    assert_eq!(script["breaker"], "closed");
    assert_eq!(script["budget"]["rpm"], 600);
    assert_eq!(script["budget"]["tpm"], 100_000);
    assert_eq!(script["budget"]["tokens_available"], 100_000);

    let u = api.get("/v1/usage", VIEWER).await;
    assert_eq!(u.status, 200);
    assert_eq!(u.body["total"]["calls"], 0);

    let t = api.get("/v1/tools", VIEWER).await;
    assert_eq!(t.status, 200);
    let tools = t.body.as_array().unwrap();
    let read = tools
        .iter()
        .find(|t| t["name"] == "fs.read")
        .expect("fs.read is listed");
    assert!(read["schema"].is_object() && read["description"].is_string());

    let a = api.get("/v1/audit?limit=10", VIEWER).await;
    assert_eq!(a.status, 200);
    assert!(
        !a.body.as_array().unwrap().is_empty(),
        "the API's own requests are audited"
    );
    let v = api.post("/v1/audit/verify", ADMIN, json!({})).await;
    assert_eq!(v.status, 200, "{}", v.text);
    assert_eq!(v.body["ok"], true);
    assert!(v.body["rows"].as_u64().unwrap() >= 1);
    api.stop().await;
}

#[actix_rt::test]
async fn prometheus_metrics_beside_v1_for_viewers() {
    let api = start().await;
    let pid = api.spawn_tally("metered").await;
    let r = api.get("/metrics", VIEWER).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(
        r.content_type().starts_with("text/plain"),
        "{}",
        r.content_type()
    );
    assert!(r.text.contains("aok_agents{state="), "{}", r.text);
    assert!(
        r.text
            .contains("aok_provider_attempts_total{backend=\"script\"}"),
        "{}",
        r.text
    );
    let anonymous = api.send(Method::GET, "/metrics", None, None).await;
    assert_eq!(anonymous.status, 401);
    let wrong = api.post("/metrics", ADMIN, json!({})).await;
    assert_eq!(wrong.status, 405);
    api.kernel.kill(pid).await.unwrap();
    api.stop().await;
}

#[actix_rt::test]
async fn trajectories_by_agent_type_with_named_parameter_errors() {
    let api = start().await;
    let pid = api.spawn_tally("traced").await;
    let failed = api
        .post(
            &format!("/v1/agents/{pid}/ask"),
            OPERATOR,
            json!({ "message": "fail" }),
        )
        .await;
    assert_eq!(failed.status, 422, "{}", failed.text);
    let r = api.get("/v1/trajectories?agent_type=tally", VIEWER).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let steps = r.body.as_array().unwrap();
    assert_eq!(steps.len(), 1, "{}", r.text);
    assert_eq!(steps[0]["pid"], pid.to_string());
    assert_eq!(steps[0]["outcome"], "error");
    assert!(
        steps[0]["error"]
            .as_str()
            .unwrap()
            .contains("asked to fail")
    );
    let task = steps[0]["task"].as_str().unwrap();
    let by_task = api
        .get(&format!("/v1/trajectories?task={task}&limit=5"), VIEWER)
        .await;
    assert_eq!(
        by_task.body.as_array().unwrap().len(),
        1,
        "{}",
        by_task.text
    );
    api.get("/v1/trajectories?limit=0", VIEWER)
        .await
        .problem(400, Some("limit"));
    api.get("/v1/trajectories?colour=red", VIEWER)
        .await
        .problem(400, Some("colour"));
    api.get("/v1/trajectories?pid=nope", VIEWER)
        .await
        .problem(400, Some("pid"));
    let anonymous = api.send(Method::GET, "/v1/trajectories", None, None).await;
    assert_eq!(anonymous.status, 401);
    api.stop().await;
}
