//! `/ui`, the admin page, without a browser: served beside `/v1` under the mount prefix,
//! public, with a strict Content-Security-Policy, the right content types, ETag
//! revalidation, and 404 / 405 for what it does not serve.

mod api_support;
mod common;

use api_support::*;

/// A client that does not follow redirects (to see the one `/ui` answers).
fn plain() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

fn header<'a>(res: &'a reqwest::Response, name: &str) -> &'a str {
    res.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

fn assert_strict_csp(res: &reqwest::Response) {
    let csp = header(res, "content-security-policy");
    for part in [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "connect-src 'self'",
        "frame-ancestors 'none'",
    ] {
        assert!(csp.contains(part), "CSP has {part}: {csp}");
    }
    assert!(!csp.contains("unsafe"), "nothing unsafe: {csp}");
    assert!(!csp.contains("http"), "no other origin: {csp}");
}

#[actix_rt::test]
async fn the_page_and_its_assets_are_served_under_the_prefix_with_a_strict_csp() {
    let api = start().await;
    let http = plain();

    // `/os/ui` sends the browser to `ui/` (relative: the prefix is kept).
    let res = http.get(format!("{}/ui", api.base)).send().await.unwrap();
    assert_eq!(res.status(), 308);
    assert_eq!(header(&res, "location"), "ui/");

    // The page is public: no token needed, and it holds no data.
    let res = http.get(format!("{}/ui/", api.base)).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(header(&res, "content-type"), "text/html; charset=utf-8");
    assert_strict_csp(&res);
    assert_eq!(header(&res, "cache-control"), "no-cache");
    assert_eq!(header(&res, "x-content-type-options"), "nosniff");
    let etag = header(&res, "etag").to_string();
    assert!(etag.starts_with('"') && etag.len() > 2, "{etag}");
    let page = res.text().await.unwrap();
    assert!(page.contains(r#"<script type="module" src="main.js">"#));
    assert!(page.contains(r#"href="style.css""#));
    assert!(
        !page.contains("https://") && !page.contains("http://"),
        "no CDN"
    );

    // Unchanged: a 304 without a body.
    let res = http
        .get(format!("{}/ui/", api.base))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 304);
    assert_strict_csp(&res);

    let res = http
        .get(format!("{}/ui/style.css", api.base))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(header(&res, "content-type"), "text/css; charset=utf-8");

    // Every module main.js imports (and the ones they import) is served as JavaScript.
    let mut todo = vec!["main.js".to_string()];
    let mut seen = Vec::new();
    while let Some(name) = todo.pop() {
        if seen.contains(&name) {
            continue;
        }
        let res = http
            .get(format!("{}/ui/{name}", api.base))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{name}");
        assert_eq!(
            header(&res, "content-type"),
            "text/javascript; charset=utf-8",
            "{name}"
        );
        assert_strict_csp(&res);
        let js = res.text().await.unwrap();
        if name != "chart.js" {
            // (chart.js names the SVG namespace, which is not a request)
            assert!(
                !js.contains("http://") && !js.contains("https://"),
                "{name}"
            );
        }
        for line in js.lines() {
            if let Some(rest) = line.split("from \"./").nth(1) {
                let dep = rest.split('"').next().unwrap_or_default().to_string();
                todo.push(dep);
            }
        }
        seen.push(name);
    }
    assert!(seen.len() >= 6, "the module graph: {seen:?}");

    // What it does not serve.
    let res = http
        .get(format!("{}/ui/nope.js", api.base))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    let res = http
        .get(format!("{}/ui/../v1/agents", api.base))
        .send()
        .await
        .unwrap();
    assert_ne!(res.status(), 200, "no way around the token");
    let res = http.post(format!("{}/ui/", api.base)).send().await.unwrap();
    assert_eq!(res.status(), 405);
    let res = http
        .delete(format!("{}/ui/main.js", api.base))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 405);

    // The API calls the page makes still need a token.
    api.send(reqwest::Method::GET, "/v1/agents", None, None)
        .await
        .problem(401, None);
    api.stop().await;
}

#[actix_rt::test]
async fn the_page_is_served_at_the_root_too() {
    let api = start_with("", api_config(), |_| {}).await;
    let http = plain();
    let res = http.get(format!("{}/ui", api.root)).send().await.unwrap();
    assert_eq!(res.status(), 308);
    assert_eq!(header(&res, "location"), "ui/");
    let res = http.get(format!("{}/ui/", api.root)).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_strict_csp(&res);
    let res = http
        .get(format!("{}/ui/main.js", api.root))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    api.stop().await;
}
