//! The API's contract: the generated OpenAPI document, problem+json for every error, the
//! body size limit (413), malformed JSON (400), wrong media type (415), unknown routes (404)
//! and methods (405), and the API mounted under a prefix beside a user's own routes.

mod api_support;
mod common;

use agent_os_kernel::api::Api;
use api_support::*;
use reqwest::Method;
use serde_json::json;

#[actix_rt::test]
async fn the_openapi_document_lists_every_route_and_its_problems() {
    let api = start().await;
    let r = api.send(Method::GET, "/v1/openapi.json", None, None).await;
    assert_eq!(r.status, 200);
    let doc = &r.body;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let paths = doc["paths"].as_object().unwrap();
    for (path, method) in [
        ("/v1/health", "get"),
        ("/v1/ready", "get"),
        ("/v1/openapi.json", "get"),
        ("/v1/agent-types", "get"),
        ("/v1/agents", "get"),
        ("/v1/agents", "post"),
        ("/v1/agents/{pid}", "get"),
        ("/v1/agents/{pid}/stop", "post"),
        ("/v1/agents/{pid}/kill", "post"),
        ("/v1/agents/{pid}/tell", "post"),
        ("/v1/agents/{pid}/ask", "post"),
        ("/v1/agents/{pid}/checkpoints", "get"),
        ("/v1/agents/{pid}/checkpoints", "post"),
        ("/v1/checkpoints/{id}/restore", "post"),
        ("/v1/checkpoints/{id}/fork", "post"),
        ("/v1/agents/{pid}/context", "get"),
        ("/v1/agents/{pid}/pages", "get"),
        ("/v1/agents/{pid}/policy", "get"),
        ("/v1/agents/{pid}/usage", "get"),
        ("/v1/scheduler", "get"),
        ("/v1/providers", "get"),
        ("/v1/usage", "get"),
        ("/v1/tools", "get"),
        ("/v1/audit", "get"),
        ("/v1/audit/verify", "post"),
        ("/v1/events", "get"),
        ("/metrics", "get"),
        ("/v1/trajectories", "get"),
        ("/v1/optimizer", "get"),
        ("/v1/optimizer/apply", "post"),
        ("/v1/tuning", "get"),
    ] {
        assert!(
            paths.get(path).and_then(|p| p.get(method)).is_some(),
            "{method} {path} is documented"
        );
    }
    assert_eq!(
        paths.len(),
        29,
        "no undocumented extras: {:?}",
        paths.keys()
    );
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    for s in [
        "Problem",
        "AgentView",
        "SpawnRequest",
        "CheckpointView",
        "ProviderView",
        "SchedulerView",
    ] {
        assert!(schemas.contains_key(s), "schema {s}");
    }
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
    let get_agent = &paths["/v1/agents/{pid}"]["get"]["responses"];
    assert!(get_agent["404"]["content"]["application/problem+json"].is_object());
    // The same document from the library.
    assert_eq!(serde_json::to_value(Api::openapi()).unwrap(), r.body);
    api.stop().await;
}

#[actix_rt::test]
async fn bodies_over_the_limit_malformed_or_mistyped_are_4xx_problems() {
    let mut config = api_config();
    config.max_body_bytes = 1024;
    let api = start_with("/os", config, |_| {}).await;
    let pid = api.spawn_tally("t").await;
    let url = format!("{}/v1/agents/{pid}/tell", api.base);

    let big = json!({ "message": { "add": 1 }, "delivery_id": "x".repeat(2000) });
    api.post(&format!("/v1/agents/{pid}/tell"), OPERATOR, big)
        .await
        .problem(413, None);
    // Streamed without a length, still cut at the limit.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        vec![Ok(vec![b' '; 800]), Ok(vec![b' '; 800])];
    let res = api
        .http
        .post(&url)
        .bearer_auth(OPERATOR)
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(futures::stream::iter(chunks)))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 413);

    for (raw, field) in [
        ("{\"message\": ", None),
        ("{\"message\": {\"add\": 1}} trailing", None),
        ("not json", None),
        (
            "{\"message\": {\"add\": 1}, \"delivery_id\": 5}",
            Some("delivery_id"),
        ),
    ] {
        let res = api
            .http
            .post(&url)
            .bearer_auth(OPERATOR)
            .header("content-type", "application/json")
            .body(raw)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 400, "{raw}");
        let body: serde_json::Value = res.json().await.unwrap();
        if let Some(f) = field {
            assert_eq!(body["field"], f, "{body}");
        }
    }
    let res = api
        .http
        .post(&url)
        .bearer_auth(OPERATOR)
        .header("content-type", "text/plain")
        .body("{\"message\": {\"add\": 1}}")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 415);
    let res = api
        .http
        .post(&url)
        .bearer_auth(OPERATOR)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400, "a body is required");

    // Query parameters name their field too.
    api.get("/v1/audit?limit=many", VIEWER)
        .await
        .problem(400, Some("limit"));
    api.get("/v1/audit?limit=0", VIEWER)
        .await
        .problem(400, Some("limit"));
    api.get("/v1/audit?pid=x", VIEWER)
        .await
        .problem(400, Some("pid"));
    api.get("/v1/audit?from=yesterday", VIEWER)
        .await
        .problem(400, Some("from"));
    api.get("/v1/audit?colour=red", VIEWER)
        .await
        .problem(400, Some("colour"));
    api.get(
        "/v1/audit?from=2030-01-01T00:00:00Z&to=2020-01-01T00:00:00Z",
        VIEWER,
    )
    .await
    .problem(400, Some("from"));
    let r = api
        .get("/v1/audit?from=2020-01-01T00:00:00Z&limit=5", VIEWER)
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    api.stop().await;
}

#[actix_rt::test]
async fn mounted_under_a_prefix_beside_the_users_routes() {
    let api = start().await; // under /os
    let own = api.http.get(format!("{}/", api.root)).send().await.unwrap();
    assert_eq!(own.status(), 200);
    assert_eq!(own.text().await.unwrap(), "the user's app");
    let r = api
        .http
        .get(format!("{}/v1/health", api.root))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404, "nothing at the root's /v1");
    assert_eq!(
        api.send(Method::GET, "/v1/health", None, None).await.status,
        200
    );
    api.get("/v1/no-such-route", VIEWER)
        .await
        .problem(404, None);
    api.send(Method::DELETE, "/v1/agents", Some(ADMIN), None)
        .await
        .problem(405, None);
    let pid = api.spawn_tally("t").await;
    let r = api.get(&format!("/v1/agents/{pid}"), VIEWER).await;
    assert_eq!(r.status, 200);
    api.stop().await;

    // And at the root.
    let api = start_with("", api_config(), |_| {}).await;
    assert_eq!(
        api.send(Method::GET, "/v1/health", None, None).await.status,
        200
    );
    assert_eq!(api.get("/v1/agents", VIEWER).await.status, 200);
    api.stop().await;
}

#[actix_rt::test]
async fn garbage_on_every_route_is_a_4xx_never_a_5xx() {
    let api = start().await;
    let pid = api.spawn_tally("t").await;
    let ck = api
        .post(
            &format!("/v1/agents/{pid}/checkpoints"),
            OPERATOR,
            json!({}),
        )
        .await;
    let id = ck.body["id"].as_str().unwrap().to_string();
    let bodies = [
        json!(null),
        json!([]),
        json!("text"),
        json!(-1),
        json!(1.5e300),
        json!({}),
        json!({ "message": null }),
        json!({ "message": { "add": 1e40 } }),
        json!({ "message": { "add": "-9223372036854775809" } }),
        json!({ "type": null, "name": [] }),
        json!({ "type": "tally", "name": "x", "priority": 1e9 }),
        json!({ "timeout_ms": -1 }),
        json!({ "name": { "deep": [[[[[[[[[[1]]]]]]]]]] } }),
        json!({ "delivery_id": "\u{0}", "message": {} }),
    ];
    let paths = [
        "/v1/agents".to_string(),
        format!("/v1/agents/{pid}/tell"),
        format!("/v1/agents/{pid}/ask"),
        format!("/v1/checkpoints/{id}/fork"),
        format!("/v1/agents/{pid}/stop"),
        "/v1/agents/%00/ask".to_string(),
        "/v1/agents/..%2F..%2Fetc/tell".to_string(),
        "/v1/checkpoints/%FF/restore".to_string(),
    ];
    for path in &paths {
        for body in &bodies {
            let r = api.post(path, ADMIN, body.clone()).await;
            assert!(
                (200..500).contains(&r.status),
                "POST {path} {body}: {} {}",
                r.status,
                r.text
            );
            if r.status >= 400 {
                assert_eq!(
                    r.content_type(),
                    "application/problem+json",
                    "POST {path} {body}"
                );
            }
        }
    }
    for query in [
        "limit=-1",
        "limit=99999999999999999999999",
        "pid=%00",
        "action=",
        "from=%FF",
        "a=b=c&&",
    ] {
        let r = api.get(&format!("/v1/audit?{query}"), VIEWER).await;
        assert!(
            (200..500).contains(&r.status),
            "audit?{query}: {} {}",
            r.status,
            r.text
        );
    }
    api.stop().await;
}
