//! `/v1/events`: kernel events as server-sent events, with increasing ids, and a reconnect
//! with `Last-Event-ID` that first gets what it missed.

mod api_support;
mod common;

use std::time::Duration;

use api_support::*;
use futures::StreamExt;

/// Reads SSE frames until `n` events (comments skipped) arrived; each as (id, event, data).
async fn events(
    res: reqwest::Response,
    n: usize,
    spawned_name: Option<&str>,
) -> Vec<(u64, String, serde_json::Value)> {
    let mut out = Vec::new();
    let mut buf = String::new();
    let mut body = res.bytes_stream();
    let read = async {
        while let Some(chunk) = body.next().await {
            buf.push_str(&String::from_utf8_lossy(&chunk.expect("stream")));
            while let Some(end) = buf.find("\n\n") {
                let frame: String = buf.drain(..end + 2).collect();
                let (mut id, mut event, mut data) = (None, String::new(), serde_json::Value::Null);
                for line in frame.lines() {
                    if let Some(v) = line.strip_prefix("id: ") {
                        id = v.parse().ok();
                    } else if let Some(v) = line.strip_prefix("event: ") {
                        event = v.to_string();
                    } else if let Some(v) = line.strip_prefix("data: ") {
                        data = serde_json::from_str(v).expect("JSON data");
                    }
                }
                if let Some(id) = id {
                    let wanted =
                        spawned_name.is_none_or(|name| event == "spawned" && data["name"] == name);
                    if wanted {
                        out.push((id, event, data));
                    }
                    if out.len() == n {
                        return;
                    }
                }
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(20), read)
        .await
        .expect("events arrive");
    out
}

#[actix_rt::test]
async fn the_stream_delivers_events_and_resumes_after_last_event_id() {
    let api = start().await;
    let url = format!("{}/v1/events", api.base);
    let res = api.http.get(&url).bearer_auth(VIEWER).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers().get("content-type").unwrap(),
        "text/event-stream"
    );

    let pid = api.spawn_tally("first").await;
    let got = events(res, 1, Some("first")).await;
    let (first_id, event, data) = &got[0];
    assert_eq!(event, "spawned");
    assert_eq!(data["pid"], pid.to_string());

    // While no client listens, two more agents are spawned; a reconnect gets them.
    api.spawn_tally("second").await;
    api.spawn_tally("third").await;
    let res = api
        .http
        .get(&url)
        .bearer_auth(VIEWER)
        .header("last-event-id", first_id.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let all = events(res, 2, None).await;
    assert!(
        all.iter().all(|(id, _, _)| id > first_id),
        "only what came after: {all:?}"
    );
    assert!(
        all.windows(2).all(|w| w[0].0 < w[1].0),
        "ids increase: {all:?}"
    );

    // Everything after the first id, in order, includes both spawns.
    let res = api
        .http
        .get(&url)
        .bearer_auth(VIEWER)
        .header("last-event-id", first_id.to_string())
        .send()
        .await
        .unwrap();
    let second = events(res, 1, Some("second")).await;
    let res = api
        .http
        .get(&url)
        .bearer_auth(VIEWER)
        .header("last-event-id", first_id.to_string())
        .send()
        .await
        .unwrap();
    let third = events(res, 1, Some("third")).await;
    assert!(second[0].0 < third[0].0);

    // An id from an earlier run (or events no longer kept): told so by a `gap` event.
    let res = api
        .http
        .get(&url)
        .bearer_auth(VIEWER)
        .header("last-event-id", "1")
        .send()
        .await
        .unwrap();
    let mut body = res.bytes_stream();
    let mut seen = String::new();
    let gap = tokio::time::timeout(Duration::from_secs(20), async {
        while let Some(chunk) = body.next().await {
            seen.push_str(&String::from_utf8_lossy(&chunk.unwrap()));
            if seen.contains("event: gap\ndata: {\"event\":\"gap\",\"after\":1,") {
                return true;
            }
        }
        false
    })
    .await
    .unwrap_or(false);
    assert!(gap, "{seen}");
    drop(body);

    // Bad input and auth.
    let r = api
        .http
        .get(&url)
        .bearer_auth(VIEWER)
        .header("last-event-id", "soon")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = api.http.get(&url).send().await.unwrap();
    assert_eq!(r.status(), 401);
    api.stop().await;
}

#[actix_rt::test]
async fn keepalive_comments_keep_an_idle_stream_open() {
    let mut config = api_config();
    config.keepalive_secs = 1;
    let api = start_with("", config, |_| {}).await;
    let res = api
        .http
        .get(format!("{}/v1/events", api.base))
        .bearer_auth(VIEWER)
        .send()
        .await
        .unwrap();
    let mut body = res.bytes_stream();
    let mut seen = String::new();
    let found = tokio::time::timeout(Duration::from_secs(20), async {
        while let Some(chunk) = body.next().await {
            seen.push_str(&String::from_utf8_lossy(&chunk.unwrap()));
            if seen.contains(": keepalive") {
                return true;
            }
        }
        false
    })
    .await
    .unwrap_or(false);
    assert!(found, "{seen}");
    api.stop().await;
}
