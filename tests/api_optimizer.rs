//! The optimizer over HTTP: `GET /v1/optimizer`, `POST /v1/optimizer/apply` (operator; a bad
//! change is a 400 naming the field and changes nothing), `GET /v1/tuning`.

mod api_support;
mod common;

use agent_os_kernel::AuditQuery;
use agent_os_kernel::provider::{BackendConfig, BackendKind, RouteTarget};
use api_support::*;
use serde_json::json;

fn target(backend: &str) -> RouteTarget {
    RouteTarget {
        backend: backend.into(),
        model: None,
        context_window: None,
    }
}

#[actix_rt::test]
async fn analysis_apply_and_settings_over_http() {
    let api = start_with("/os", api_config(), |kc| {
        kc.providers
            .backends
            .insert("script2".into(), BackendConfig::new(BackendKind::Scripted));
        kc.providers
            .routes
            .insert("grp".into(), vec![target("script"), target("script2")]);
    })
    .await;
    let pid = api.spawn_tally("t").await;
    let ask = api
        .post(
            &format!("/v1/agents/{pid}/ask"),
            OPERATOR,
            json!({ "message": { "add": 2 } }),
        )
        .await;
    assert_eq!(ask.status, 200, "{}", ask.text);

    let a = api.get("/v1/optimizer", VIEWER).await;
    assert_eq!(a.status, 200, "{}", a.text);
    for key in ["steps", "types", "backends", "suggestions"] {
        assert!(a.body.get(key).is_some(), "{key} in {}", a.text);
    }
    let a = api
        .get("/v1/optimizer?agent_type=tally&min_samples=3", VIEWER)
        .await;
    assert_eq!(a.status, 200, "{}", a.text);
    api.get("/v1/optimizer?min_samples=0", VIEWER)
        .await
        .problem(400, Some("min_samples"));
    api.get("/v1/optimizer?from=yesterday", VIEWER)
        .await
        .problem(400, Some("from"));
    api.get("/v1/optimizer?bogus=1", VIEWER)
        .await
        .problem(400, Some("bogus"));

    let good = json!({"kind": "route", "model": "grp",
        "chain": [{"backend": "script2"}, {"backend": "script"}]});
    api.post("/v1/optimizer/apply", VIEWER, good.clone())
        .await
        .problem(403, None);
    api.post(
        "/v1/optimizer/apply",
        OPERATOR,
        json!({"kind": "route", "model": "grp", "chain": [{"backend": "nowhere"}]}),
    )
    .await
    .problem(400, Some("chain"));
    api.post(
        "/v1/optimizer/apply",
        OPERATOR,
        json!({"kind": "step_limit", "agent_type": "tally", "max_steps": 0}),
    )
    .await
    .problem(400, Some("max_steps"));
    let bad_kind = api
        .post(
            "/v1/optimizer/apply",
            OPERATOR,
            json!({"kind": "reboot", "agent_type": "tally"}),
        )
        .await;
    assert_eq!(bad_kind.status, 400, "{}", bad_kind.text);
    let settings = api.get("/v1/tuning", VIEWER).await;
    assert_eq!(settings.body["routes"]["grp"], json!(["script", "script2"]));
    assert_eq!(settings.body["types"], json!({}));

    let r = api.post("/v1/optimizer/apply", OPERATOR, good).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["previous"], "chain script, script2");
    let r = api
        .post(
            "/v1/optimizer/apply",
            OPERATOR,
            json!({"kind": "step_limit", "agent_type": "tally", "max_steps": 12}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["previous"], "max_steps none");

    let settings = api.get("/v1/tuning", VIEWER).await;
    assert_eq!(settings.status, 200, "{}", settings.text);
    assert_eq!(settings.body["routes"]["grp"], json!(["script2", "script"]));
    assert_eq!(settings.body["types"]["tally"]["max_steps"], 12);
    assert_eq!(
        api.kernel.providers().router.routes()["grp"],
        vec![target("script2"), target("script")]
    );

    api.kernel.audit().flush().await.unwrap();
    let audited = api
        .kernel
        .audit()
        .query(AuditQuery::new().action("optimizer.apply"))
        .await
        .unwrap();
    let targets: Vec<_> = audited
        .iter()
        .map(|e| e.record.target.clone().unwrap_or_default())
        .collect();
    assert_eq!(targets, ["type:tally", "route:grp"], "newest first");
    api.stop().await;
}
