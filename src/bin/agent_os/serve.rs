//! `agent-os serve`: the kernel from the configuration (SQLite by default), its HTTP API at
//! `/` on `api.bind` (or `--bind`), until SIGINT or SIGTERM; then the server stops accepting,
//! finishes its requests, and the kernel shuts down cleanly. It registers the agent types
//! `echo` and `chat` (`types.rs`) and starts the offline `scripted` backend when no LLM backend
//! is configured or detected.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use actix_web::{App, HttpServer};
use agent_os_kernel::Kernel;
use agent_os_kernel::api::Api;

use super::{EXIT_CONFIG, EXIT_RUNTIME, config_cmd, logging, types};

/// `agent-os serve` arguments.
#[derive(clap::Args)]
pub(crate) struct ServeArgs {
    /// A TOML or YAML configuration file (on top of the defaults and AOK__* variables).
    #[arg(long)]
    config: Option<PathBuf>,
    /// The address to listen on (default `api.bind`, 127.0.0.1:7878); port 0 picks one.
    #[arg(long)]
    bind: Option<String>,
    /// The model of the built-in `chat` agent type (default `AOK_CHAT_MODEL`, else the first
    /// model a configured backend lists, else a small model of the detected provider, else
    /// `scripted`, the offline backend).
    #[arg(long)]
    chat_model: Option<String>,
}

/// Runs the server.
pub(crate) fn run(args: ServeArgs) -> ExitCode {
    let cfg = match config_cmd::load(args.config.as_deref()) {
        Ok(c) => c,
        Err(code) => return code,
    };
    logging::init(&cfg.log.filter);
    let raw = args.bind.unwrap_or_else(|| cfg.api.bind.clone());
    let addr: SocketAddr = match raw.parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("--bind `{raw}` is not an address such as 127.0.0.1:7878: {e}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    if let Some(problem) = cfg.api.exposure_problem(addr) {
        eprintln!("{problem}");
        return ExitCode::from(EXIT_CONFIG);
    }
    let explicit = args
        .chat_model
        .or_else(|| std::env::var("AOK_CHAT_MODEL").ok());
    let model = types::ChatModel::configured(explicit, &cfg);
    let system = actix_web::rt::System::new();
    match system.block_on(serve(cfg, addr, model)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("agent-os serve: {e}");
            ExitCode::from(EXIT_RUNTIME)
        }
    }
}

/// Resolves on SIGINT or SIGTERM.
async fn terminated() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

async fn serve(
    cfg: agent_os_kernel::KernelConfig,
    addr: SocketAddr,
    model: types::ChatModel,
) -> Result<(), Box<dyn std::error::Error>> {
    let api_config = cfg.api.clone();
    // With no backend configured or detected, the offline `scripted` backend answers `chat`.
    let builder = Kernel::builder().config(cfg).offline_fallback(true);
    let kernel = types::register(builder, &model).build().await?;
    model.settle(&kernel);
    tracing::info!(model = %model.get(), "agent types echo and chat registered");
    let api = Api::new(kernel.clone(), api_config);
    let streams = api.clone();
    let server = HttpServer::new(move || App::new().configure(api.routes()))
        .disable_signals()
        .workers(std::thread::available_parallelism().map_or(2, |n| n.get().min(4)))
        .bind(addr);
    let server = match server {
        Ok(s) => s,
        Err(e) => {
            kernel.shutdown().await;
            return Err(format!("cannot listen on {addr}: {e}").into());
        }
    };
    for bound in server.addrs() {
        println!("agent-os listening on http://{bound}");
    }
    use std::io::Write as _;
    let _ = std::io::stdout().flush();
    let server = server.run();
    let handle = server.handle();
    actix_web::rt::spawn(async move {
        terminated().await;
        tracing::info!("signal received: stopping the server, then the kernel");
        streams.close_streams();
        handle.stop(true).await;
    });
    let served = server.await;
    kernel.shutdown().await;
    tracing::info!("kernel shut down");
    served.map_err(Into::into)
}
