//! A small W3C WebDriver client over reqwest, driving Debian's `chromedriver` and headless
//! `chromium` (installed by scripts/setup-chromium.sh): start the driver on a free port, open
//! a session, navigate, find and click elements, type, run scripts, accept a `confirm()`,
//! take screenshots. Missing binaries are a loud failure, never a skip.
#![allow(dead_code)]

use std::path::PathBuf;
use std::time::Duration;

use serde_json::{Value, json};

/// The W3C key of an element reference.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// The fix named in every failure about missing browsers.
const SETUP: &str = "install them with `bash scripts/setup-chromium.sh` \
     (as root: apt-get install chromium chromium-driver)";

/// An executable on `PATH`, or a loud failure naming the setup script.
pub(crate) fn require(program: &str) -> PathBuf {
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("`{program}` is not on PATH: the browser test needs it; {SETUP}"))
}

/// A running `chromedriver` (killed on drop).
pub(crate) struct Driver {
    base: String,
    http: reqwest::Client,
    _child: tokio::process::Child,
}

/// A browser session (end it with [`Session::close`]).
pub(crate) struct Session {
    base: String,
    http: reqwest::Client,
}

/// A free port on 127.0.0.1 (taken and released; chromedriver binds it right after).
fn free_port() -> u16 {
    std::net::TcpListener::bind(("127.0.0.1", 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl Driver {
    /// Starts `chromedriver` on a free port and waits until it is ready.
    pub(crate) async fn start() -> Driver {
        let driver = require("chromedriver");
        require("chromium");
        let port = free_port();
        let child = tokio::process::Command::new(&driver)
            .arg(format!("--port={port}"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}; {SETUP}", driver.display()));
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .expect("client");
        let base = format!("http://127.0.0.1:{port}");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let ready = match http.get(format!("{base}/status")).send().await {
                Ok(r) => r
                    .json::<Value>()
                    .await
                    .is_ok_and(|v| v["value"]["ready"] == true),
                Err(_) => false,
            };
            if ready {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "chromedriver did not become ready on port {port} within 20 s"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Driver {
            base,
            http,
            _child: child,
        }
    }

    /// A new headless session (`--headless=new --no-sandbox --disable-gpu`, 1280×900).
    pub(crate) async fn session(&self) -> Session {
        let chromium = require("chromium");
        let caps = json!({ "capabilities": { "alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                         "--window-size=1280,900", "--disable-dev-shm-usage"],
            },
            "goog:loggingPrefs": { "browser": "ALL" },
        }}});
        let res = self
            .http
            .post(format!("{}/session", self.base))
            .json(&caps)
            .send()
            .await
            .expect("chromedriver answers");
        let body: Value = res.json().await.expect("JSON from chromedriver");
        let id = body["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("chromium did not start ({SETUP}): {body}"));
        Session {
            base: format!("{}/session/{id}", self.base),
            http: self.http.clone(),
        }
    }
}

impl Session {
    /// One WebDriver command; the `value` of the answer, or the driver's error.
    pub(crate) async fn cmd(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, String> {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await.map_err(|e| e.to_string())?;
        let ok = res.status().is_success();
        let body: Value = res.json().await.map_err(|e| e.to_string())?;
        if ok {
            Ok(body["value"].clone())
        } else {
            Err(format!(
                "{}: {}",
                body["value"]["error"].as_str().unwrap_or("error"),
                body["value"]["message"].as_str().unwrap_or("")
            ))
        }
    }

    async fn post(&self, path: &str, body: Value) -> Result<Value, String> {
        self.cmd(reqwest::Method::POST, path, Some(body)).await
    }

    /// Opens `url`.
    pub(crate) async fn goto(&self, url: &str) -> Result<(), String> {
        self.post("/url", json!({ "url": url })).await.map(drop)
    }

    /// The current URL.
    pub(crate) async fn url(&self) -> Result<String, String> {
        let v = self.cmd(reqwest::Method::GET, "/url", None).await?;
        Ok(v.as_str().unwrap_or_default().to_string())
    }

    /// The element `css` selects (the first).
    pub(crate) async fn find(&self, css: &str) -> Result<String, String> {
        let v = self
            .post("/element", json!({ "using": "css selector", "value": css }))
            .await
            .map_err(|e| format!("{css}: {e}"))?;
        v[ELEMENT]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| format!("{css}: no element reference in {v}"))
    }

    /// Clicks the element `css` selects (found again if the page replaced it meanwhile).
    pub(crate) async fn click(&self, css: &str) -> Result<(), String> {
        let mut tries = 0;
        loop {
            let e = self.find(css).await?;
            match self.post(&format!("/element/{e}/click"), json!({})).await {
                Ok(_) => return Ok(()),
                Err(err) if err.starts_with("stale element") && tries < 3 => tries += 1,
                Err(err) => return Err(format!("click {css}: {err}")),
            }
        }
    }

    /// Types `text` into the element `css` selects.
    pub(crate) async fn type_into(&self, css: &str, text: &str) -> Result<(), String> {
        let e = self.find(css).await?;
        self.post(&format!("/element/{e}/value"), json!({ "text": text }))
            .await
            .map(drop)
    }

    /// Runs `script` (a function body; `arguments` are `args`) and returns its result.
    pub(crate) async fn exec(&self, script: &str, args: Value) -> Result<Value, String> {
        self.post("/execute/sync", json!({ "script": script, "args": args }))
            .await
    }

    /// The text content of the element `css` selects, or `None` when there is none.
    pub(crate) async fn text(&self, css: &str) -> Result<Option<String>, String> {
        let v = self
            .exec(
                "const e = document.querySelector(arguments[0]); return e ? e.textContent : null;",
                json!([css]),
            )
            .await?;
        Ok(v.as_str().map(str::to_string))
    }

    /// Polls `check` on the page until it returns `Some`, for at most `timeout`; the error
    /// says what was awaited and what was last seen.
    pub(crate) async fn wait_for<T>(
        &self,
        what: &str,
        timeout: Duration,
        mut check: impl AsyncFnMut(&Session) -> Result<Option<T>, String>,
    ) -> Result<T, String> {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut last = String::new();
        loop {
            match check(self).await {
                Ok(Some(v)) => return Ok(v),
                Ok(None) => {}
                Err(e) => last = e,
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(format!(
                    "timed out after {timeout:?} waiting for {what} ({last})"
                ));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The text of an open `alert` / `confirm`, if one is open.
    pub(crate) async fn dialog_text(&self) -> Result<Option<String>, String> {
        match self.cmd(reqwest::Method::GET, "/alert/text", None).await {
            Ok(v) => Ok(v.as_str().map(str::to_string)),
            Err(e) if e.starts_with("no such alert") => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Accepts the open dialog (OK on a `confirm`).
    pub(crate) async fn accept_dialog(&self) -> Result<(), String> {
        self.post("/alert/accept", json!({})).await.map(drop)
    }

    /// The browser console's entries (chromedriver's log endpoint), as (level, message).
    pub(crate) async fn console(&self) -> Result<Vec<(String, String)>, String> {
        let v = self.post("/se/log", json!({ "type": "browser" })).await?;
        Ok(v.as_array()
            .map(|a| {
                a.iter()
                    .map(|e| {
                        (
                            e["level"].as_str().unwrap_or("").to_string(),
                            e["message"].as_str().unwrap_or("").to_string(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default())
    }

    /// Saves a PNG screenshot of the window as `name` in the artifacts directory; its path.
    pub(crate) async fn screenshot(&self, name: &str) -> Result<PathBuf, String> {
        let v = self.cmd(reqwest::Method::GET, "/screenshot", None).await?;
        let png = base64_decode(v.as_str().unwrap_or_default())?;
        if !png.starts_with(b"\x89PNG") {
            return Err("the screenshot is not a PNG".into());
        }
        let dir = artifacts_dir();
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let path = dir.join(name);
        std::fs::write(&path, png).map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(path)
    }

    /// Ends the session (closes the browser).
    pub(crate) async fn close(self) {
        let _ = self.cmd(reqwest::Method::DELETE, "", None).await;
    }
}

/// A TCP proxy in front of the server that the test can take down: while down, open
/// connections are cut and new ones closed at once (what a network drop looks like to the
/// page, without stopping the server).
pub(crate) struct Proxy {
    /// Where the browser connects.
    pub(crate) addr: std::net::SocketAddr,
    down: std::sync::Arc<tokio::sync::watch::Sender<bool>>,
    task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    /// A proxy on a free port forwarding to `upstream`.
    pub(crate) async fn start(upstream: std::net::SocketAddr) -> Proxy {
        use actix_rt::net::{TcpListener, TcpStream};
        let listener = TcpListener::bind(("127.0.0.1", 0))
            .await
            .expect("bind the proxy");
        let addr = listener.local_addr().expect("the proxy's address");
        let down = std::sync::Arc::new(tokio::sync::watch::Sender::new(false));
        let state = down.clone();
        let task = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if *state.borrow() {
                    continue; // dropped: closed at once
                }
                let mut cut = state.subscribe();
                tokio::spawn(async move {
                    let Ok(mut server) = TcpStream::connect(upstream).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        _ = cut.wait_for(|down| *down) => {}
                    }
                });
            }
        });
        Proxy { addr, down, task }
    }

    /// Takes the proxy down (`true`: cut every connection, refuse new ones) or up again.
    pub(crate) fn set_down(&self, down: bool) {
        self.down.send_replace(down);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.set_down(true);
        self.task.abort();
    }
}

/// `target/ui-artifacts/` (under `CARGO_TARGET_DIR` when it is set).
pub(crate) fn artifacts_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"))
        .join("ui-artifacts")
}

/// Standard base64 (what WebDriver screenshots are in).
fn base64_decode(s: &str) -> Result<Vec<u8>, String> {
    fn value(c: u8) -> Option<u32> {
        match c {
            b'A'..=b'Z' => Some(u32::from(c - b'A')),
            b'a'..=b'z' => Some(u32::from(c - b'a') + 26),
            b'0'..=b'9' => Some(u32::from(c - b'0') + 52),
            b'+' => Some(62),
            b'/' => Some(63),
            _ => None,
        }
    }
    let clean: Vec<u8> = s
        .bytes()
        .filter(|c| !c.is_ascii_whitespace() && *c != b'=')
        .collect();
    let mut out = Vec::with_capacity(clean.len() * 3 / 4);
    for chunk in clean.chunks(4) {
        let mut n = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            let v = value(c).ok_or_else(|| format!("not base64: byte {c}"))?;
            n |= v << (18 - 6 * i);
        }
        let bytes = n.to_be_bytes();
        out.extend_from_slice(&bytes[1..chunk.len()]);
    }
    Ok(out)
}

#[test]
fn base64_decodes() {
    assert_eq!(base64_decode("aGVsbG8=").unwrap(), b"hello");
    assert_eq!(base64_decode("aGVsbG8h").unwrap(), b"hello!");
    assert_eq!(base64_decode("aGk=").unwrap(), b"hi");
}
