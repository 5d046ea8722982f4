//! Embedding the kernel in your own actix-web application.
//!
//! The app keeps its own routes (`/health`) and holds the kernel in `web::Data`. A handler
//! spawns an agent (`POST /counters/{name}`), others ask it through its typed handle
//! (`POST /counters/{name}/add/{n}`), and a plain actix actor of the app reaches the same agent
//! through actix's own vocabulary, a `Recipient` (`POST /counters/{name}/bump`).
//!
//! The kernel's own HTTP API (`agent_os_kernel::api`, docs/api.md) is mounted beside them under
//! `/os`: `curl localhost:8080/os/v1/agents` lists the counters as the kernel sees them.
//!
//! Run: `cargo run --example actix_web`, then
//! `curl -X POST localhost:8080/counters/a && curl -X POST localhost:8080/counters/a/add/5`.

use std::collections::HashMap;

use actix::prelude::*;
use actix_web::{App, HttpResponse, HttpServer, web};
use agent_os_kernel::prelude::*;
use parking_lot::Mutex;

/// The agent: a running total.
#[derive(Default)]
pub(crate) struct Counter(i64);

impl Agent for Counter {
    type Msg = i64;
    type Reply = i64;
    async fn handle(&mut self, n: i64, _ctx: &mut AgentContext) -> Result<i64, AgentError> {
        self.0 += n;
        Ok(self.0)
    }
}

/// A plain actix actor of the application that bumps counters through their recipients.
pub(crate) struct Bumper;

impl Actor for Bumper {
    type Context = Context<Self>;
}

/// Add one to the counter behind this recipient.
#[derive(Message)]
#[rtype(result = "Result<i64, String>")]
pub(crate) struct Bump(pub(crate) Recipient<Deliver<i64, i64>>);

impl Handler<Bump> for Bumper {
    type Result = ResponseFuture<Result<i64, String>>;
    fn handle(&mut self, Bump(to): Bump, _: &mut Context<Self>) -> Self::Result {
        Box::pin(async move {
            match to.send(Deliver::new(1)).await {
                Ok(reply) => reply.map_err(|e| e.to_string()),
                Err(mailbox) => Err(mailbox.to_string()),
            }
        })
    }
}

/// What the handlers share: the kernel, the app's counters by name, its actix actor.
pub(crate) struct AppState {
    pub(crate) kernel: Kernel,
    pub(crate) counters: Mutex<HashMap<String, AgentRef<Counter>>>,
    pub(crate) bumper: Addr<Bumper>,
}

fn counter(state: &AppState, name: &str) -> Option<AgentRef<Counter>> {
    state.counters.lock().get(name).cloned()
}

async fn spawn_counter(state: web::Data<AppState>, name: web::Path<String>) -> HttpResponse {
    let opts = SpawnOptions::new(name.as_str());
    match state.kernel.spawn(Counter::default, opts).await {
        Ok(agent) => {
            let pid = agent.pid();
            state.counters.lock().insert(name.into_inner(), agent);
            HttpResponse::Created().json(serde_json::json!({ "pid": pid }))
        }
        Err(e) => HttpResponse::ServiceUnavailable().body(e.to_string()),
    }
}

async fn add(state: web::Data<AppState>, path: web::Path<(String, i64)>) -> HttpResponse {
    let (name, n) = path.into_inner();
    let Some(agent) = counter(&state, &name) else {
        return HttpResponse::NotFound().body(format!("no counter `{name}`"));
    };
    match agent.ask(n).await {
        Ok(total) => HttpResponse::Ok().json(serde_json::json!({ "total": total })),
        Err(e) => HttpResponse::InternalServerError().body(e.to_string()),
    }
}

async fn bump(state: web::Data<AppState>, name: web::Path<String>) -> HttpResponse {
    let Some(agent) = counter(&state, &name) else {
        return HttpResponse::NotFound().body(format!("no counter `{name}`"));
    };
    match state.bumper.send(Bump(agent.recipient())).await {
        Ok(Ok(total)) => HttpResponse::Ok().json(serde_json::json!({ "total": total })),
        Ok(Err(e)) => HttpResponse::InternalServerError().body(e),
        Err(e) => HttpResponse::InternalServerError().body(e.to_string()),
    }
}

/// The application's routes, mountable in any `App`.
pub(crate) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/health", web::get().to(HttpResponse::Ok))
        .route("/counters/{name}", web::post().to(spawn_counter))
        .route("/counters/{name}/add/{n}", web::post().to(add))
        .route("/counters/{name}/bump", web::post().to(bump));
}

/// The shared state over a running kernel.
pub(crate) fn state(kernel: Kernel) -> web::Data<AppState> {
    web::Data::new(AppState {
        kernel,
        counters: Mutex::new(HashMap::new()),
        bumper: Bumper.start(),
    })
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let kernel = Kernel::builder()
        .build()
        .await
        .map_err(std::io::Error::other)?;
    let data = state(kernel.clone());
    // No tokens configured: anonymous admin access, so this example listens on loopback only.
    let api = agent_os_kernel::api::Api::new(kernel.clone(), Default::default());
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .configure(routes)
            .service(web::scope("/os").configure(api.routes()))
    })
    .bind(("127.0.0.1", 8080))?
    .run();
    println!("listening on http://127.0.0.1:8080");
    server.await?;
    kernel.shutdown().await;
    Ok(())
}
