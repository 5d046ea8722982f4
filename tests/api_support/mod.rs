//! Shared by the `api_*` tests: a real kernel on the test database (`AOK_TEST_BACKEND`), a
//! registered JSON agent type (`tally`), the API with one token per role, served by a real
//! `HttpServer` on 127.0.0.1:0 — mounted under a prefix inside an app of its own, like a user
//! would — and a reqwest client.
#![allow(dead_code)]

use std::future::Future;
use std::time::Duration;

use actix_web::dev::ServerHandle;
use actix_web::{App, HttpResponse, HttpServer, web};
use agent_os_kernel::api::{Api, ApiConfig, ApiToken, Role};
use agent_os_kernel::prelude::*;
use agent_os_kernel::provider::{BackendConfig, BackendKind};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::common::{StorageGuard, backend_from_env, test_storage};

pub(crate) const ADMIN: &str = "admin-token-0123456789";
pub(crate) const OPERATOR: &str = "operator-token-0123456789";
pub(crate) const VIEWER: &str = "viewer-token-0123456789";

/// A message to the tally.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum TallyMsg {
    /// Add to the total; the reply is the new total.
    Add(i64),
    /// Fail with an error.
    Fail,
}

/// A JSON agent with state (so checkpoints carry something).
#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct Tally {
    pub(crate) total: i64,
}

impl Agent for Tally {
    type Msg = TallyMsg;
    type Reply = i64;
    async fn handle(&mut self, m: TallyMsg, _ctx: &mut AgentContext) -> Result<i64, AgentError> {
        match m {
            TallyMsg::Add(n) => {
                self.total += n;
                Ok(self.total)
            }
            TallyMsg::Fail => Err(AgentError::failed("asked to fail")),
        }
    }
    fn snapshot(&self) -> Result<Option<serde_json::Value>, AgentError> {
        AgentContext::to_state(self).map(Some)
    }
    fn restore(&mut self, state: serde_json::Value) -> Result<(), AgentError> {
        *self = serde_json::from_value(state).map_err(AgentError::other)?;
        Ok(())
    }
}

pub(crate) fn digest(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// An API configuration with an admin, an operator and a viewer token.
pub(crate) fn api_config() -> ApiConfig {
    let tokens = [
        ("root", Role::Admin, ADMIN),
        ("ops", Role::Operator, OPERATOR),
        ("watch", Role::Viewer, VIEWER),
    ]
    .into_iter()
    .map(|(name, role, token)| ApiToken {
        name: name.into(),
        role,
        sha256: digest(token),
    })
    .collect();
    ApiConfig {
        tokens,
        ..ApiConfig::default()
    }
}

/// A running API over a test kernel.
pub(crate) struct TestApi {
    pub(crate) kernel: Kernel,
    /// `http://127.0.0.1:PORT` + the mount prefix.
    pub(crate) base: String,
    /// `http://127.0.0.1:PORT`.
    pub(crate) root: String,
    pub(crate) http: reqwest::Client,
    handle: ServerHandle,
    api: Api,
    _db: StorageGuard,
}

/// The API under `/os` in an app that also has its own route `/`.
pub(crate) async fn start() -> TestApi {
    start_with("/os", api_config(), |_| {}).await
}

/// The API under `prefix` ("" = at the root) with `config`; `tweak` adjusts the kernel's
/// configuration first.
pub(crate) async fn start_with(
    prefix: &str,
    config: ApiConfig,
    tweak: impl FnOnce(&mut KernelConfig),
) -> TestApi {
    let (storage, db) = test_storage(backend_from_env()).await;
    let mut kc = KernelConfig::default();
    kc.kernel.arbiters = 2;
    let mut backend = BackendConfig::new(BackendKind::Scripted);
    backend.rpm = Some(600);
    backend.tpm = Some(100_000);
    kc.providers.backends.insert("script".into(), backend);
    tweak(&mut kc);
    let kernel = Kernel::builder()
        .config(kc)
        .storage(storage)
        .agent_type("tally", Tally::default)
        .build()
        .await
        .expect("kernel builds");
    let api = Api::new(kernel.clone(), config);
    let mounted = api.clone();
    let scope = prefix.to_string();
    let server = HttpServer::new(move || {
        let app = App::new().route(
            "/",
            web::get().to(|| async { HttpResponse::Ok().body("the user's app") }),
        );
        if scope.is_empty() {
            app.configure(api.routes())
        } else {
            app.service(web::scope(&scope).configure(api.routes()))
        }
    })
    .workers(1)
    .disable_signals()
    .bind(("127.0.0.1", 0))
    .expect("bind a free port");
    let addr = server.addrs()[0];
    let server = server.run();
    let handle = server.handle();
    actix_rt::spawn(server);
    TestApi {
        kernel,
        base: format!("http://{addr}{prefix}"),
        root: format!("http://{addr}"),
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .expect("client"),
        handle,
        api: mounted,
        _db: db,
    }
}

/// A response: status, headers, JSON body (`Null` when not JSON).
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) headers: reqwest::header::HeaderMap,
    pub(crate) body: serde_json::Value,
    pub(crate) text: String,
}

impl Reply {
    pub(crate) fn content_type(&self) -> &str {
        self.headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    /// Asserts a problem document with `status` (and `field`, if given).
    pub(crate) fn problem(&self, status: u16, field: Option<&str>) -> &Self {
        assert_eq!(self.status, status, "{}", self.text);
        assert_eq!(
            self.content_type(),
            "application/problem+json",
            "{}",
            self.text
        );
        assert_eq!(self.body["status"], status, "{}", self.text);
        assert!(
            self.body["type"]
                .as_str()
                .is_some_and(|t| t.starts_with("urn:agent-os:problem:")),
            "{}",
            self.text
        );
        assert!(
            self.body["title"].is_string() && self.body["detail"].is_string(),
            "{}",
            self.text
        );
        if let Some(f) = field {
            assert_eq!(self.body["field"], f, "{}", self.text);
        }
        self
    }
}

impl TestApi {
    /// A request to `path` (under the mount) with a bearer `token` (if any).
    pub(crate) async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<serde_json::Value>,
    ) -> Reply {
        let mut r = self.http.request(method, format!("{}{path}", self.base));
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        if let Some(b) = body {
            r = r.json(&b);
        }
        let res = r.send().await.expect("request");
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let text = res.text().await.unwrap_or_default();
        let body = serde_json::from_str(&text).unwrap_or(serde_json::Value::Null);
        Reply {
            status,
            headers,
            body,
            text,
        }
    }

    pub(crate) async fn get(&self, path: &str, token: &str) -> Reply {
        self.send(reqwest::Method::GET, path, Some(token), None)
            .await
    }

    pub(crate) async fn post(&self, path: &str, token: &str, body: serde_json::Value) -> Reply {
        self.send(reqwest::Method::POST, path, Some(token), Some(body))
            .await
    }

    /// Spawns a tally through the API and returns its pid.
    pub(crate) async fn spawn_tally(&self, name: &str) -> Pid {
        let r = self
            .post(
                "/v1/agents",
                OPERATOR,
                serde_json::json!({ "type": "tally", "name": name }),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
        r.body["pid"].as_str().expect("pid").parse().expect("a pid")
    }

    /// Stops the server, then the kernel.
    pub(crate) async fn stop(self) {
        self.api.close_streams();
        self.handle.stop(true).await;
        self.kernel.shutdown().await;
    }
}

/// A pid no agent has.
pub(crate) fn unknown_pid() -> String {
    Pid::new().to_string()
}

/// Polls `f` until it is true or `timeout` passes.
pub(crate) async fn eventually<F, Fut>(timeout: Duration, mut f: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if f().await {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

pub(crate) use agent_os_kernel::KernelConfig;
