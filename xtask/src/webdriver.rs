//! Just enough of the W3C WebDriver protocol to drive headless Chromium through Debian's
//! `chromedriver`: open a page, evaluate a script, take a screenshot.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use base64::Engine as _;
use serde_json::{Value, json};

/// Chromium's flags for tests on this machine: headless, as root, nothing fetched from the
/// internet, no DNS but for 127.0.0.1, and self-signed certificates accepted.
pub(crate) const CHROMIUM_ARGS: &[&str] = &[
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--ignore-certificate-errors",
    "--disable-features=WebRtcHideLocalIpsWithMdns",
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
    "--window-size=1100,1000",
];

/// A chromedriver process with one browser session; both end when dropped.
pub(crate) struct Browser {
    driver: Child,
    session: String,
    agent: ureq::Agent,
}

impl Browser {
    pub(crate) fn start() -> anyhow::Result<Self> {
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let driver = Command::new("/usr/bin/chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("cannot start chromedriver")?;
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(60)))
            .build()
            .into();
        let base = format!("http://127.0.0.1:{port}");
        let started = Instant::now();
        while agent.get(&format!("{base}/status")).call().is_err() {
            anyhow::ensure!(
                started.elapsed() < Duration::from_secs(20),
                "chromedriver did not start"
            );
            std::thread::park_timeout(Duration::from_millis(50));
        }
        let capabilities = json!({
            "capabilities": { "alwaysMatch": {
                "browserName": "chrome",
                "goog:chromeOptions": { "binary": "/usr/bin/chromium", "args": CHROMIUM_ARGS },
            }}
        });
        let mut browser = Self {
            driver,
            session: String::new(),
            agent,
        };
        let created = browser.call("POST", &format!("{base}/session"), Some(capabilities))?;
        browser.session = format!(
            "{base}/session/{}",
            created["sessionId"].as_str().context("no session id")?
        );
        Ok(browser)
    }

    fn call(&self, method: &str, url: &str, body: Option<Value>) -> anyhow::Result<Value> {
        let mut response = match (method, body) {
            ("GET", _) => self.agent.get(url).call()?,
            (_, Some(body)) => self
                .agent
                .post(url)
                .header("Content-Type", "application/json")
                .send(serde_json::to_vec(&body)?)?,
            (_, None) => self.agent.delete(url).call()?,
        };
        let value: Value = serde_json::from_str(&response.body_mut().read_to_string()?)?;
        if !response.status().is_success() {
            bail!("webdriver: {}", value["value"]["message"]);
        }
        Ok(value["value"].clone())
    }

    /// Opens `url`.
    pub(crate) fn open(&self, url: &str) -> anyhow::Result<()> {
        self.call(
            "POST",
            &format!("{}/url", self.session),
            Some(json!({ "url": url })),
        )
        .map(drop)
    }

    /// The value of `script` (a function body that `return`s) in the page.
    pub(crate) fn eval(&self, script: &str) -> anyhow::Result<Value> {
        self.call(
            "POST",
            &format!("{}/execute/sync", self.session),
            Some(json!({ "script": script, "args": [] })),
        )
    }

    /// Polls `script` until it returns something truthy, for at most `deadline`.
    pub(crate) fn wait_for(&self, script: &str, deadline: Duration) -> anyhow::Result<Value> {
        let started = Instant::now();
        loop {
            let value = self.eval(script)?;
            if !(value.is_null() || value == json!(false) || value == json!("")) {
                return Ok(value);
            }
            anyhow::ensure!(
                started.elapsed() < deadline,
                "timed out waiting for {script}"
            );
            std::thread::park_timeout(Duration::from_millis(100));
        }
    }

    /// Opens `url` and waits for the JSON the page leaves in `document.body.dataset.result`
    /// (the convention of the test pages), for at most `deadline`. A page that keeps a
    /// `window.pageLog` (lines of console output) gets its end printed when it gives no result.
    pub(crate) fn page_result(&self, url: &str, deadline: Duration) -> anyhow::Result<Value> {
        self.open(url)?;
        let result = self
            .wait_for("return document.body.dataset.result", deadline)
            .inspect_err(|_| {
                if let Some(log) = self.page_log(100) {
                    eprintln!("the page's last console lines:\n{log}");
                }
            })?;
        Ok(serde_json::from_str(
            result.as_str().context("the page's result is not text")?,
        )?)
    }

    /// The last `lines` of a page's `window.pageLog`, if it keeps one.
    pub(crate) fn page_log(&self, lines: usize) -> Option<String> {
        let log = self.eval(&format!(
            "return window.pageLog && window.pageLog.slice(-{lines}).join('\\n')"
        ));
        match log {
            Ok(Value::String(log)) => Some(log),
            _ => None,
        }
    }

    /// A PNG of the window.
    pub(crate) fn screenshot(&self) -> anyhow::Result<Vec<u8>> {
        let encoded = self.call("GET", &format!("{}/screenshot", self.session), None)?;
        let encoded = encoded.as_str().context("screenshot is not a string")?;
        Ok(base64::engine::general_purpose::STANDARD.decode(encoded)?)
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = self.call("DELETE", &self.session.clone(), None);
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
