//! The `/v1` routes: one file per area, each handler documented for the OpenAPI document.

pub(crate) mod agents;
pub(crate) mod audit;
pub(crate) mod checkpoints;
pub(crate) mod inspect;
pub(crate) mod messages;
pub(crate) mod meta;
pub(crate) mod optimizer;
pub(crate) mod stream;
pub(crate) mod trajectories;

use actix_web::{Resource, web};

/// A resource whose other methods are answered with a 405 problem.
fn at(path: &str) -> Resource {
    web::resource(path).default_service(web::to(meta::method_not_allowed))
}

/// Registers every route of the `/v1` scope.
pub(crate) fn routes(cfg: &mut web::ServiceConfig) {
    let get = web::get;
    let post = web::post;
    cfg.service(at("/health").route(get().to(meta::health)))
        .service(at("/ready").route(get().to(meta::ready)))
        .service(at("/openapi.json").route(get().to(meta::openapi)))
        .service(at("/agent-types").route(get().to(agents::types)))
        .service(
            at("/agents")
                .route(get().to(agents::list))
                .route(post().to(agents::spawn)),
        )
        .service(at("/agents/{pid}").route(get().to(agents::get)))
        .service(at("/agents/{pid}/stop").route(post().to(agents::stop)))
        .service(at("/agents/{pid}/kill").route(post().to(agents::kill)))
        .service(at("/agents/{pid}/tell").route(post().to(messages::tell)))
        .service(at("/agents/{pid}/ask").route(post().to(messages::ask)))
        .service(
            at("/agents/{pid}/checkpoints")
                .route(get().to(checkpoints::list))
                .route(post().to(checkpoints::create)),
        )
        .service(at("/checkpoints/{id}/restore").route(post().to(checkpoints::restore)))
        .service(at("/checkpoints/{id}/fork").route(post().to(checkpoints::fork)))
        .service(at("/agents/{pid}/context").route(get().to(inspect::context)))
        .service(at("/agents/{pid}/pages").route(get().to(inspect::pages)))
        .service(at("/agents/{pid}/policy").route(get().to(inspect::policy)))
        .service(at("/agents/{pid}/usage").route(get().to(inspect::agent_usage)))
        .service(at("/scheduler").route(get().to(inspect::scheduler)))
        .service(at("/providers").route(get().to(inspect::providers)))
        .service(at("/usage").route(get().to(inspect::usage)))
        .service(at("/tools").route(get().to(inspect::tools)))
        .service(at("/audit").route(get().to(audit::query)))
        .service(at("/trajectories").route(get().to(trajectories::query)))
        .service(at("/optimizer").route(get().to(optimizer::analyze)))
        .service(at("/optimizer/apply").route(post().to(optimizer::apply)))
        .service(at("/tuning").route(get().to(optimizer::tuning)))
        .service(at("/audit/verify").route(post().to(audit::verify)))
        .service(at("/events").route(get().to(stream::events)));
}
