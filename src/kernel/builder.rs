//! [`KernelBuilder`]: configuration in, running kernel out.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize};
use std::time::Duration;

use actix::{Actor, Arbiter};
use dashmap::DashMap;
use tracing::info;

use crate::config::{ConfigError, KernelConfig};
use crate::embed::Embedder;
use crate::error::KernelError;
use crate::events::EventBus;
use crate::ipc::topics::Topics;
use crate::kernel::{Kernel, KernelInner, registry::Registry};
use crate::pager::{Pager, ReplacementPolicy};
use crate::provider::Providers;
use crate::scheduler::Scheduler;
use crate::storage::{RegistryWriter, Storage};
use crate::supervisor::{SupervisorActor, SupervisorId, SupervisorMap, SupervisorSpec};

/// Configures and starts a [`Kernel`].
///
/// Configuration comes from (later wins) the embedded defaults, an optional file, the
/// `AOK__SECTION__KEY` environment variables, then the explicit setters on this builder.
#[derive(Debug, Default)]
pub struct KernelBuilder {
    config: Option<KernelConfig>,
    config_file: Option<PathBuf>,
    storage_url: Option<String>,
    storage: Option<Storage>,
    arbiters: Option<usize>,
    probe_ollama: Option<bool>,
    offline_fallback: Option<bool>,
    policy: Option<Arc<dyn ReplacementPolicy>>,
    embedder: Option<Arc<dyn Embedder>>,
    types: Vec<(Arc<str>, Arc<dyn super::types::AgentType>)>,
    tools: Vec<Arc<dyn crate::tools::Tool>>,
}

impl std::fmt::Debug for dyn super::types::AgentType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AgentType")
    }
}

impl KernelBuilder {
    /// Uses this configuration as is (no file, no environment).
    pub fn config(mut self, config: KernelConfig) -> Self {
        self.config = Some(config);
        self
    }

    /// Reads this TOML or YAML file on top of the defaults (then the environment).
    pub fn config_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.config_file = Some(path.into());
        self
    }

    /// Overrides `storage.url`.
    pub fn storage_url(mut self, url: impl Into<String>) -> Self {
        self.storage_url = Some(url.into());
        self
    }

    /// Uses an already connected (and migrated) storage instead of opening `storage.url`,
    /// e.g. to share one connection pool with the embedding application.
    pub fn storage(mut self, storage: Storage) -> Self {
        self.storage = Some(storage);
        self
    }

    /// The pager's replacement policy, instead of `pager.policy`.
    pub fn replacement_policy(mut self, policy: Arc<dyn ReplacementPolicy>) -> Self {
        self.policy = Some(policy);
        self
    }

    /// The pager's embedder, instead of the one `[pager.embedder]` configures (e.g. one
    /// loaded once and shared by several kernels).
    pub fn embedder(mut self, embedder: Arc<dyn Embedder>) -> Self {
        self.embedder = Some(embedder);
        self
    }

    /// Registers an agent type by name (name → factory). Agents of a registered type can be
    /// spawned by name with JSON options ([`Kernel::spawn_registered`]), spawned durable
    /// ([`Kernel::spawn_durable`]), and — what durability needs — built again when the
    /// kernel resumes them after a restart, or restores or forks one of their checkpoints.
    /// Register every durable type before `build`: durable agents are resumed during it.
    pub fn agent_type<A, F>(mut self, name: &str, factory: F) -> Self
    where
        A: crate::Agent,
        A::Msg: serde::Serialize + serde::de::DeserializeOwned,
        A::Reply: serde::Serialize,
        F: Fn() -> A + Send + Sync + 'static,
    {
        self.types.push(super::types::registration(name, factory));
        self
    }

    /// Adds a tool of one's own to the registry (next to the built-in ones; the same name
    /// replaces one).
    pub fn tool(mut self, tool: Arc<dyn crate::tools::Tool>) -> Self {
        self.tools.push(tool);
        self
    }

    /// Overrides `kernel.arbiters` (0 = one per core).
    pub fn arbiters(mut self, n: usize) -> Self {
        self.arbiters = Some(n);
        self
    }

    /// Overrides `providers.probe_ollama`: with `true`, backend detection also probes a local
    /// Ollama at 127.0.0.1:11434 (a TCP connect, 200 ms). Off by default, so building a
    /// kernel touches no network unless asked.
    pub fn probe_ollama(mut self, probe: bool) -> Self {
        self.probe_ollama = Some(probe);
        self
    }

    /// Overrides `providers.offline_fallback`: with `true`, a kernel that finds no LLM backend
    /// starts the offline, deterministic `scripted` backend (it echoes; it does not generate).
    /// Off by default: without a backend `ctx.llm` answers [`crate::LlmError::NotConfigured`].
    pub fn offline_fallback(mut self, fallback: bool) -> Self {
        self.offline_fallback = Some(fallback);
        self
    }

    /// Starts the kernel: arbiters, root supervisor, storage (migrated). Must run inside an
    /// actix system.
    pub async fn build(self) -> Result<Kernel, KernelError> {
        if actix::System::try_current().is_none() {
            return Err(KernelError::NoActixSystem);
        }
        let mut config = match self.config {
            Some(c) => c,
            None => KernelConfig::load(self.config_file.as_deref())?,
        };
        if let Some(url) = self.storage_url {
            config.storage.url = url;
        }
        if let Some(n) = self.arbiters {
            config.kernel.arbiters = n;
        }
        crate::install_crypto_provider();
        let storage = match self.storage {
            Some(s) => s,
            None => Storage::connect(&config.storage.url).await?,
        };
        let writer = RegistryWriter::spawn(storage.clone())?;
        let checkpoint_writer = crate::checkpoint::writer::CheckpointWriter::spawn(storage.clone());
        let audit = crate::security::audit::AuditLog::start(storage.clone());

        let n = match config.kernel.arbiters {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        };
        let arbiters: Vec<Arbiter> = (0..n).map(|_| Arbiter::new()).collect();
        let arbiter_handles = arbiters.iter().map(|a| a.handle()).collect();

        let events = EventBus::new(config.kernel.event_buffer);
        let supervisors: SupervisorMap = Arc::new(DashMap::new());
        let s = &config.supervisor;
        let root_spec = SupervisorSpec::new("root")
            .intensity(s.max_restarts, Duration::from_millis(s.period_ms))
            .backoff(
                Duration::from_millis(s.backoff_min_ms),
                Duration::from_millis(s.backoff_max_ms),
            );
        let root = SupervisorActor::new(
            SupervisorId::ROOT,
            root_spec,
            None,
            events.clone(),
            supervisors.clone(),
        )
        .start();
        supervisors.insert(SupervisorId::ROOT, root);

        for w in config.providers.capacity_warnings(&config.scheduler) {
            tracing::warn!("{w}");
        }
        // A configuration built in code skips `KernelConfig::load`'s checks: the default policy
        // every agent shares is checked here once.
        if let Some((key, reason)) = config.security.problems().into_iter().next() {
            return Err(ConfigError::Invalid {
                key,
                origin: "the kernel configuration".into(),
                reason,
            }
            .into());
        }
        // Agent states follow their slice requests through each request's observer (under
        // the scheduler's lock, in order), so the kernel needs no event follower.
        let scheduler =
            Scheduler::start(config.scheduler.clone()).map_err(|e| ConfigError::Invalid {
                key: "scheduler".into(),
                origin: "the kernel configuration".into(),
                reason: e.to_string(),
            })?;

        if let Some(probe) = self.probe_ollama {
            config.providers.probe_ollama = probe;
        }
        if let Some(fallback) = self.offline_fallback {
            config.providers.offline_fallback = fallback;
        }
        let p = &config.providers;
        let probe = p.backends.is_empty() && p.detect && p.probe_ollama;
        let ollama_up = probe && super::llm::ollama_is_up().await;
        let providers = Providers::start(&p.resolved(ollama_up))?;

        info!(
            arbiters = n,
            storage = %storage.url(),
            backends = ?providers.router.backends(),
            "kernel started"
        );
        let trajectories =
            crate::trajectory::Trajectories::start(storage.clone(), &config.trajectories);
        let kernel = Kernel {
            inner: Arc::new(KernelInner {
                default_policy: Arc::new(config.security.clone()),
                config,
                registry: Registry::default(),
                topics: Topics::default(),
                arbiters,
                arbiter_handles,
                next_arbiter: AtomicUsize::new(0),
                supervisors,
                next_supervisor: AtomicU64::new(1),
                events,
                shutting_down: Arc::new(AtomicBool::new(false)),
                storage,
                writer,
                scheduler,
                providers,
                pager: std::sync::OnceLock::new(),
                checkpoint_writer,
                tools: {
                    let r = crate::tools::builtin_registry();
                    for t in self.tools {
                        r.register(t);
                    }
                    r
                },
                audit,
                trajectories,
                tuning: crate::tuning::Tuning::default(),
                types: self.types.into_iter().collect(),
            }),
        };
        let cfg = &kernel.inner.config.pager;
        let built = match self.embedder {
            Some(e) => Ok(e),
            None => crate::embed::build(&cfg.embedder, &kernel).await,
        };
        let embedder = match built {
            Ok(e) => e,
            Err(e) => {
                kernel.shutdown().await;
                return Err(ConfigError::Invalid {
                    key: "pager.embedder".into(),
                    origin: "the kernel configuration".into(),
                    reason: e.to_string(),
                }
                .into());
            }
        };
        let pager = match self.policy {
            Some(policy) => {
                Pager::with_policy(cfg.clone(), kernel.inner.storage.clone(), embedder, policy)
            }
            None => Pager::new(cfg.clone(), kernel.inner.storage.clone(), embedder),
        };
        crate::tools::mcp::register(&kernel.inner.config.mcp, &kernel.inner.tools).await;
        crate::telemetry::global();
        super::paging::wire(&pager, &kernel.inner);
        let _ = kernel.inner.pager.set(pager);
        if kernel.inner.config.durability.resume_on_start {
            kernel.resume_agents().await;
        }
        Ok(kernel)
    }
}
