//! The OpenAPI 3 document, generated from the handlers' `#[utoipa::path]` attributes and the
//! bodies' `ToSchema` derives.

use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::config::Role;
use super::handlers::{
    agents, audit, checkpoints, inspect, messages, meta, optimizer, stream, trajectories,
};
use super::problem::Problem;

/// Declares the `bearer` security scheme the protected operations name.
struct BearerScheme;

impl Modify for BearerScheme {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "agent-os-kernel API",
        description = "The kernel over HTTP: agents, messages, checkpoints, context, scheduler, providers, usage, tools, audit and live events. Errors are application/problem+json (RFC 9457). See docs/api.md."
    ),
    paths(
        meta::health, meta::ready, meta::openapi, meta::metrics,
        agents::types, agents::list, agents::spawn, agents::get, agents::stop, agents::kill,
        messages::tell, messages::ask,
        checkpoints::list, checkpoints::create, checkpoints::restore, checkpoints::fork,
        inspect::context, inspect::pages, inspect::policy, inspect::agent_usage,
        inspect::scheduler, inspect::providers, inspect::usage, inspect::tools,
        audit::query, audit::verify,
        trajectories::query,
        optimizer::analyze, optimizer::apply, optimizer::tuning,
        stream::events,
    ),
    components(schemas(Problem, Role)),
    modifiers(&BearerScheme),
    tags(
        (name = "health", description = "Liveness, readiness, this document"),
        (name = "agents", description = "Spawn, list, inspect, stop and kill agents"),
        (name = "messages", description = "Tell and ask JSON agents"),
        (name = "checkpoints", description = "Take, list, restore and fork checkpoints"),
        (name = "kernel", description = "Scheduler, providers, usage, tools"),
        (name = "audit", description = "The tamper-evident audit log"),
        (name = "events", description = "Live kernel events (server-sent events)"),
    )
)]
struct ApiDoc;

/// The document.
pub(crate) fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}
