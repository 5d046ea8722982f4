//! `examples/actix_web.rs` under test: a real HTTP server with the app's routes, real requests.

mod common;
mod support;

#[allow(dead_code)]
#[path = "../examples/actix_web.rs"]
mod example;

use actix_web::{App, HttpServer};
use support::*;

#[actix_rt::test]
async fn the_actix_web_example_spawns_and_asks_agents_from_handlers() {
    let (k, _db) = kernel().await;
    let data = example::state(k.clone());
    let server =
        HttpServer::new(move || App::new().app_data(data.clone()).configure(example::routes))
            .workers(1)
            .bind(("127.0.0.1", 0))
            .expect("bind a free port");
    let addr = server.addrs()[0];
    let server = server.run();
    let handle = server.handle();
    actix_rt::spawn(server);
    let base = format!("http://{addr}");
    let http = reqwest::Client::new();

    let health = http.get(format!("{base}/health")).send().await.unwrap();
    assert_eq!(health.status(), 200, "the app's own route");

    let created = http
        .post(format!("{base}/counters/apples"))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let body: serde_json::Value = created.json().await.unwrap();
    let pid: agent_os_kernel::Pid = serde_json::from_value(body["pid"].clone()).unwrap();
    assert_eq!(
        k.status(pid).unwrap().name,
        "apples",
        "spawned in the kernel"
    );

    for (n, total) in [(5, 5), (3, 8)] {
        let r = http
            .post(format!("{base}/counters/apples/add/{n}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let body: serde_json::Value = r.json().await.unwrap();
        assert_eq!(body["total"], total);
    }
    // Through the app's own actix actor and the agent's recipient.
    let r = http
        .post(format!("{base}/counters/apples/bump"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["total"], 9);

    let missing = http
        .post(format!("{base}/counters/pears/add/1"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);

    handle.stop(true).await;
    k.shutdown().await;
}
