//! The kernel over HTTP: an actix-web service an application mounts in its own `App`, under
//! any prefix, on its own actix system; `agent-os serve` runs the same service standalone.
//!
//! Everything is under `/v1`: agents (spawn a registered type, list, get, stop, kill, tell,
//! ask), checkpoints (create, list, restore, fork), an agent's context, pages, policy and
//! usage, the scheduler, the providers, the usage ledger, the tools, the audit log, live
//! events (`/v1/events`, server-sent events with `Last-Event-ID` resume), `/v1/health`,
//! `/v1/ready` and the OpenAPI 3 document `/v1/openapi.json` generated from this code.
//! Beside it, `/metrics` serves [`crate::Kernel::metrics_text`] (Prometheus, viewer role)
//! and `/ui` the admin page (compiled in; it asks for a token and calls `../v1/…`).
//! Every error is an RFC 9457 `application/problem+json` document; bad input is a 4xx naming
//! the field, unknown agents and checkpoints are 404. Bearer tokens from `[[api.tokens]]`
//! (stored as SHA-256 digests) carry a [`Role`]; every authenticated request is audited.
//! The reference is `docs/api.md`.
//!
//! ```no_run
//! use actix_web::{App, HttpServer, web};
//! use agent_os_kernel::api::{Api, ApiConfig};
//! use agent_os_kernel::Kernel;
//!
//! #[actix_web::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let kernel = Kernel::builder().build().await?;
//!     // One `Api` per application: it keeps the event history shared by every worker.
//!     let api = Api::new(kernel.clone(), ApiConfig::default());
//!     HttpServer::new(move || {
//!         App::new()
//!             .route("/", web::get().to(|| async { "my app" }))
//!             .service(web::scope("/os").configure(api.routes()))
//!     })
//!     .bind(("127.0.0.1", 8080))?
//!     .run()
//!     .await?;
//!     kernel.shutdown().await;
//!     Ok(())
//! }
//! ```

mod auth;
mod config;
mod dto;
mod events;
mod extract;
mod handlers;
mod kernel_errors;
mod openapi;
mod problem;
mod state;
mod ui;

use std::sync::Arc;

use actix_web::web;
use tracing::Instrument;

pub use config::{ApiConfig, ApiToken, Role};
pub use dto::*;
pub use problem::Problem;

use state::ApiState;

/// The HTTP API over one kernel. Cheap to clone; build it once (inside the actix system or
/// any tokio runtime: it starts the task that keeps the event history) and mount
/// [`Api::routes`] in every worker's `App`.
#[derive(Clone, Debug)]
pub struct Api {
    state: web::Data<ApiState>,
}

impl Api {
    /// The API over `kernel` with `config` (`ApiConfig::default()`, or the kernel's own
    /// `kernel.config().api`). With no tokens configured every caller is an anonymous admin:
    /// mount it only where that is acceptable (see [`ApiConfig::exposure_problem`]).
    pub fn new(kernel: crate::Kernel, config: ApiConfig) -> Self {
        let tokens = auth::Tokens::new(&config.tokens);
        if tokens.anonymous() {
            tracing::warn!("HTTP API without [[api.tokens]]: every caller is an anonymous admin");
        }
        let events = events::EventRing::start(config.event_history, kernel.events());
        Api {
            state: web::Data::from(Arc::new(ApiState {
                kernel,
                config,
                tokens,
                events,
            })),
        }
    }

    /// The configuration it runs with.
    pub fn config(&self) -> &ApiConfig {
        &self.state.config
    }

    /// The service configuration to mount: `App::new().configure(api.routes())` serves
    /// `/v1/…`, `/metrics` and the admin page `/ui`; inside `web::scope("/os")` it serves
    /// `/os/v1/…`, `/os/metrics` and `/os/ui`. Its extractor settings
    /// (body limit, error handlers) apply to its own routes only.
    pub fn routes(&self) -> impl FnOnce(&mut web::ServiceConfig) + 'static {
        let state = self.state.clone();
        move |cfg| {
            let limit = state.config.max_body_bytes;
            cfg.service(
                web::resource("/metrics")
                    .app_data(state.clone())
                    .route(web::get().to(handlers::meta::metrics))
                    .default_service(web::to(handlers::meta::method_not_allowed)),
            );
            ui::routes(cfg);
            let scope = web::scope("/v1")
                .app_data(state)
                .app_data(extract::path_config())
                .app_data(extract::query_config())
                .app_data(extract::json_config(limit))
                .wrap_fn(|req, srv| {
                    use actix_web::dev::Service as _;
                    let span = tracing::info_span!(
                        "api",
                        method = %req.method(),
                        path = %req.path(),
                        caller = tracing::field::Empty,
                    );
                    srv.call(req).instrument(span)
                })
                .configure(handlers::routes)
                .default_service(web::to(handlers::meta::not_found));
            cfg.service(scope);
        }
    }

    /// Ends every open `/v1/events` stream, now and later: call it before stopping the
    /// server gracefully (an SSE response never ends on its own, so a graceful stop would
    /// wait for its shutdown timeout).
    pub fn close_streams(&self) {
        self.state.events.close();
    }

    /// The OpenAPI 3 document of the API (what `/v1/openapi.json` serves).
    pub fn openapi() -> utoipa::openapi::OpenApi {
        openapi::document()
    }
}
