//! `/ui`: the admin page. One HTML page, its scripts and its style sheet, compiled into the
//! binary (`include_str!`), served beside `/v1` under the same mount prefix. The page is
//! public (it holds no data): it asks for a bearer token, keeps it in `sessionStorage` and
//! calls `../v1/…` with it, so it works under any prefix.
//!
//! `GET /ui` redirects to `ui/` (relative, so the prefix is kept), which serves the page;
//! `GET /ui/{file}` serves an asset or a 404. Every answer carries a Content-Security-Policy
//! allowing this origin only (no inline script or style, no other origin, no framing), an
//! `ETag` of its content and `Cache-Control: no-cache` (revalidated, so a new binary's page is
//! never stale; an unchanged asset costs a 304).

use std::sync::OnceLock;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use sha2::{Digest, Sha256};

/// The policy every `/ui` answer carries: this origin only, nothing inline.
pub(crate) const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; \
     frame-ancestors 'none'";

/// One compiled-in asset.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static str,
}

const JS: &str = "text/javascript; charset=utf-8";

/// Every asset; the page is `index.html`.
const ASSETS: &[Asset] = &[
    Asset {
        name: "index.html",
        content_type: "text/html; charset=utf-8",
        body: include_str!("index.html"),
    },
    Asset {
        name: "style.css",
        content_type: "text/css; charset=utf-8",
        body: include_str!("style.css"),
    },
    Asset {
        name: "main.js",
        content_type: JS,
        body: include_str!("main.js"),
    },
    Asset {
        name: "api.js",
        content_type: JS,
        body: include_str!("api.js"),
    },
    Asset {
        name: "events.js",
        content_type: JS,
        body: include_str!("events.js"),
    },
    Asset {
        name: "agents.js",
        content_type: JS,
        body: include_str!("agents.js"),
    },
    Asset {
        name: "detail.js",
        content_type: JS,
        body: include_str!("detail.js"),
    },
    Asset {
        name: "system.js",
        content_type: JS,
        body: include_str!("system.js"),
    },
    Asset {
        name: "chart.js",
        content_type: JS,
        body: include_str!("chart.js"),
    },
    Asset {
        name: "audit.js",
        content_type: JS,
        body: include_str!("audit.js"),
    },
];

/// The quoted ETag of each asset, in the order of [`ASSETS`] (computed once).
fn etags() -> &'static [String] {
    static TAGS: OnceLock<Vec<String>> = OnceLock::new();
    TAGS.get_or_init(|| {
        ASSETS
            .iter()
            .map(|a| {
                let d = Sha256::digest(a.body.as_bytes());
                let hex: String = d.iter().take(12).map(|b| format!("{b:02x}")).collect();
                format!("\"{hex}\"")
            })
            .collect()
    })
}

/// Registers `/ui`, `/ui/` and `/ui/{file}` (other methods: 405).
pub(crate) fn routes(cfg: &mut web::ServiceConfig) {
    use super::handlers::meta::method_not_allowed;
    cfg.service(
        web::resource("/ui")
            .route(web::get().to(redirect))
            .default_service(web::to(method_not_allowed)),
    )
    .service(
        web::resource("/ui/")
            .route(web::get().to(page))
            .default_service(web::to(method_not_allowed)),
    )
    .service(
        web::resource("/ui/{file}")
            .route(web::get().to(asset))
            .default_service(web::to(method_not_allowed)),
    );
}

/// `GET /ui`: to `ui/`, relative, so that the page's relative URLs (`app.js`, `../v1/…`)
/// resolve under whatever prefix the API is mounted at.
async fn redirect() -> HttpResponse {
    HttpResponse::PermanentRedirect()
        .insert_header((header::LOCATION, "ui/"))
        .insert_header((header::CONTENT_SECURITY_POLICY, CSP))
        .finish()
}

/// `GET /ui/`: the page.
async fn page(req: HttpRequest) -> HttpResponse {
    serve(&req, "index.html")
}

/// `GET /ui/{file}`: an asset, or a 404.
async fn asset(req: HttpRequest, file: web::Path<String>) -> HttpResponse {
    serve(&req, &file)
}

fn serve(req: &HttpRequest, name: &str) -> HttpResponse {
    let Some(i) = ASSETS.iter().position(|a| a.name == name) else {
        return HttpResponse::NotFound()
            .content_type("text/plain; charset=utf-8")
            .insert_header((header::CONTENT_SECURITY_POLICY, CSP))
            .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
            .body("no such file in the admin page\n");
    };
    let a = &ASSETS[i];
    let tag = &etags()[i];
    let fresh = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == tag || t.trim() == "*"));
    let mut res = if fresh {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    res.insert_header((header::CONTENT_SECURITY_POLICY, CSP))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header((header::ETAG, tag.as_str()));
    if fresh {
        res.finish()
    } else {
        res.content_type(a.content_type).body(a.body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn asset_names_are_unique_and_etags_quoted() {
        for (i, a) in ASSETS.iter().enumerate() {
            assert!(
                ASSETS[i + 1..].iter().all(|b| b.name != a.name),
                "{}",
                a.name
            );
            assert!(!a.body.is_empty(), "{}", a.name);
        }
        assert!(etags().iter().all(|t| t.len() == 26 && t.starts_with('"')));
    }

    #[test]
    fn the_page_loads_only_assets_that_exist_and_nothing_inline() {
        let page = ASSETS[0].body;
        for a in &ASSETS[1..] {
            if a.name.ends_with(".css") || a.name == "main.js" {
                assert!(page.contains(a.name), "index.html loads {}", a.name);
            }
        }
        assert!(!page.contains("<script>"), "no inline script");
        assert!(!page.contains("style="), "no inline style");
        assert!(!page.contains("http://") && !page.contains("https://"));
    }
}
