//! Bearer tokens and roles: 401 that leaks nothing (missing, unknown, wrong scheme answer the
//! same), 403 per role, the open routes, anonymous mode, and every decision in the audit log.

mod api_support;
mod common;

use agent_os_kernel::AuditQuery;
use agent_os_kernel::api::ApiConfig;
use api_support::*;
use reqwest::Method;
use serde_json::json;

#[actix_rt::test]
async fn missing_unknown_and_malformed_tokens_get_the_same_401() {
    let api = start().await;
    let mut bodies = Vec::new();
    for (label, header) in [
        ("missing", None),
        ("unknown", Some("Bearer not-a-token")),
        ("wrong scheme", Some("Basic YWRtaW46YWRtaW4=")),
        ("empty", Some("Bearer ")),
        ("a token's digest as token", Some("Bearer x")),
    ] {
        let mut r = api.http.get(format!("{}/v1/agents", api.base));
        if let Some(h) = header {
            r = r.header("authorization", h);
        }
        let res = r.send().await.unwrap();
        assert_eq!(res.status(), 401, "{label}");
        assert_eq!(
            res.headers()
                .get("www-authenticate")
                .and_then(|v| v.to_str().ok()),
            Some("Bearer"),
            "{label}"
        );
        assert_eq!(
            res.headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok()),
            Some("application/problem+json")
        );
        bodies.push(res.text().await.unwrap());
    }
    assert!(
        bodies.windows(2).all(|w| w[0] == w[1]),
        "identical bodies: {bodies:?}"
    );
    assert!(
        !bodies[0].contains("unknown") && !bodies[0].contains("root"),
        "{}",
        bodies[0]
    );
    api.stop().await;
}

#[actix_rt::test]
async fn roles_gate_every_route() {
    let api = start().await;
    let pid = api.spawn_tally("t").await;
    let ck = api
        .post(
            &format!("/v1/agents/{pid}/checkpoints"),
            OPERATOR,
            json!({}),
        )
        .await;
    assert_eq!(ck.status, 201, "{}", ck.text);
    let id = ck.body["id"].as_str().unwrap().to_string();

    // (method, path, body, least role: 0 viewer, 1 operator, 2 admin)
    let tell = json!({ "message": { "add": 1 } });
    let routes: Vec<(Method, String, serde_json::Value, usize)> = vec![
        (Method::GET, "/v1/agents".into(), json!(null), 0),
        (Method::GET, format!("/v1/agents/{pid}"), json!(null), 0),
        (Method::GET, "/v1/agent-types".into(), json!(null), 0),
        (
            Method::GET,
            format!("/v1/agents/{pid}/context"),
            json!(null),
            0,
        ),
        (
            Method::GET,
            format!("/v1/agents/{pid}/pages"),
            json!(null),
            0,
        ),
        (
            Method::GET,
            format!("/v1/agents/{pid}/policy"),
            json!(null),
            0,
        ),
        (
            Method::GET,
            format!("/v1/agents/{pid}/usage"),
            json!(null),
            0,
        ),
        (
            Method::GET,
            format!("/v1/agents/{pid}/checkpoints"),
            json!(null),
            0,
        ),
        (Method::GET, "/v1/scheduler".into(), json!(null), 0),
        (Method::GET, "/v1/providers".into(), json!(null), 0),
        (Method::GET, "/v1/usage".into(), json!(null), 0),
        (Method::GET, "/v1/tools".into(), json!(null), 0),
        (Method::GET, "/v1/audit".into(), json!(null), 0),
        (
            Method::POST,
            "/v1/agents".into(),
            json!({ "type": "tally", "name": "x" }),
            1,
        ),
        (
            Method::POST,
            format!("/v1/agents/{pid}/tell"),
            tell.clone(),
            1,
        ),
        (
            Method::POST,
            format!("/v1/agents/{pid}/ask"),
            tell.clone(),
            1,
        ),
        (
            Method::POST,
            format!("/v1/agents/{pid}/checkpoints"),
            json!({}),
            1,
        ),
        (
            Method::POST,
            format!("/v1/checkpoints/{id}/fork"),
            json!({}),
            2,
        ),
        (
            Method::POST,
            format!("/v1/checkpoints/{id}/restore"),
            json!({}),
            2,
        ),
        (Method::POST, "/v1/audit/verify".into(), json!({}), 2),
        (Method::POST, format!("/v1/agents/{pid}/stop"), json!({}), 1),
    ];
    let tokens = [VIEWER, OPERATOR, ADMIN];
    for (method, path, body, least) in &routes {
        let body = (!body.is_null()).then(|| body.clone());
        for (rank, token) in tokens.iter().enumerate() {
            let r = api
                .send(method.clone(), path, Some(token), body.clone())
                .await;
            if rank < *least {
                r.problem(403, None);
            } else {
                assert!(r.status < 300, "{method} {path} as rank {rank}: {}", r.text);
                if path.ends_with("/stop") {
                    break; // the agent is gone now
                }
            }
        }
        // Nothing is done without a token.
        api.send(method.clone(), path, None, body.clone())
            .await
            .problem(401, None);
    }
    // Kill: admin only (last, it ends the agent).
    let other = api.spawn_tally("k").await;
    for token in [VIEWER, OPERATOR] {
        api.post(&format!("/v1/agents/{other}/kill"), token, json!({}))
            .await
            .problem(403, None);
    }
    assert!(
        api.kernel.status(other).is_ok(),
        "a refused kill did nothing"
    );
    assert_eq!(
        api.post(&format!("/v1/agents/{other}/kill"), ADMIN, json!({}))
            .await
            .status,
        200
    );
    api.stop().await;
}

#[actix_rt::test]
async fn health_ready_and_openapi_need_no_token_and_requests_are_audited() {
    let api = start().await;
    for path in ["/v1/health", "/v1/ready", "/v1/openapi.json"] {
        let r = api.send(Method::GET, path, None, None).await;
        assert_eq!(r.status, 200, "{path}: {}", r.text);
    }
    assert_eq!(api.get("/v1/agents", VIEWER).await.status, 200);
    api.post("/v1/audit/verify", VIEWER, json!({}))
        .await
        .problem(403, None);
    api.send(Method::GET, "/v1/agents", Some("nope"), None)
        .await
        .problem(401, None);

    let audit = api.kernel.audit();
    audit.flush().await.unwrap();
    let entries = audit
        .query(AuditQuery::new().action("api.request"))
        .await
        .unwrap();
    let seen: Vec<(Option<String>, Option<String>, bool)> = entries
        .iter()
        .map(|e| {
            (
                e.record.actor.clone(),
                e.record.target.clone(),
                e.record.allowed,
            )
        })
        .collect();
    assert!(
        seen.contains(&(Some("watch".into()), Some("GET /os/v1/agents".into()), true)),
        "{seen:?}"
    );
    assert!(
        seen.contains(&(
            Some("watch".into()),
            Some("POST /os/v1/audit/verify".into()),
            false
        )),
        "{seen:?}"
    );
    assert!(
        seen.contains(&(None, Some("GET /os/v1/agents".into()), false)),
        "{seen:?}"
    );
    assert_eq!(
        entries.len(),
        3,
        "health, ready and openapi are not audited: {seen:?}"
    );

    // Through the API, the audit log shows the route pattern, never the concrete path.
    let pid = api.spawn_tally("t").await;
    api.get(&format!("/v1/agents/{pid}"), VIEWER).await;
    let r = api.get("/v1/audit?action=api.request&limit=1", ADMIN).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = api.get("/v1/audit?action=api.*&limit=50", ADMIN).await;
    let targets: Vec<&str> = r
        .body
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["target"].as_str())
        .collect();
    assert!(targets.contains(&"GET /os/v1/agents/{pid}"), "{targets:?}");
    api.stop().await;
}

#[actix_rt::test]
async fn without_tokens_callers_are_anonymous_admins() {
    let api = start_with("", ApiConfig::default(), |_| {}).await;
    let r = api.send(Method::GET, "/v1/agents", None, None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = api.send(Method::POST, "/v1/audit/verify", None, None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let audit = api.kernel.audit();
    audit.flush().await.unwrap();
    let entries = audit
        .query(AuditQuery::new().action("api.request"))
        .await
        .unwrap();
    assert!(
        entries
            .iter()
            .all(|e| e.record.actor.as_deref() == Some("anonymous"))
    );
    // The serve rule: no tokens and a non-loopback address is refused unless allowed.
    let mut c = ApiConfig::default();
    assert!(
        c.exposure_problem("0.0.0.0:7878".parse().unwrap())
            .is_some()
    );
    assert!(
        c.exposure_problem("127.0.0.1:7878".parse().unwrap())
            .is_none()
    );
    c.allow_anonymous = true;
    assert!(
        c.exposure_problem("0.0.0.0:7878".parse().unwrap())
            .is_none()
    );
    c = api_config();
    assert!(
        c.exposure_problem("0.0.0.0:7878".parse().unwrap())
            .is_none(),
        "tokens make it safe"
    );
    api.stop().await;
}
