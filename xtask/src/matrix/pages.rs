//! The matrix's web pages: Chromium and the sites it opens (switchboard-js's and Helia's),
//! started for the first row that needs them and kept for the others.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context as _, bail};

use super::Outcome;
use crate::daemon::DEADLINE;
use crate::demo_page::Server;
use crate::webdriver::Browser;

/// A page the matrix opens in Chromium.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Page {
    /// switchboard-js's dial page.
    Switchboard,
    /// The Helia page, without a block to fetch.
    Helia,
}

/// A site served on 127.0.0.1.
struct Site {
    _server: Server,
    base: String,
}

impl Site {
    fn start(dir: &Path) -> anyhow::Result<Self> {
        let server = Server::start(dir)?;
        Ok(Self {
            base: format!("http://127.0.0.1:{}", server.port),
            _server: server,
        })
    }
}

/// Chromium and the pages' sites, each started for the first row that needs it and kept for
/// the others.
#[derive(Default)]
pub(super) struct Chromium {
    browser: Option<Browser>,
    switchboard: Option<Site>,
    helia: Option<Site>,
}

impl Chromium {
    /// The base URL of `page`'s site, started the first time.
    fn site(&mut self, page: Page) -> anyhow::Result<String> {
        // The sites were built before the namespace was entered (`prepare`).
        let (site, dir) = match page {
            Page::Switchboard => (&mut self.switchboard, crate::demo_page::site_dir()),
            Page::Helia => (&mut self.helia, crate::helia::browser_site_dir()),
        };
        if site.is_none() {
            *site = Some(Site::start(&dir)?);
        }
        Ok(site.as_ref().context("just started")?.base.clone())
    }

    /// Opens `page` in a Chromium of its own, listening through `relay` on `/webrtc` with a
    /// block of 1 MiB; the page's `/webrtc` address through the relay, the block's CID, and the
    /// Chromium (the page lives as long as it).
    pub(super) fn listen(
        &mut self,
        page: Page,
        relay: &str,
    ) -> anyhow::Result<(String, String, Browser)> {
        let base = self.site(page)?;
        let path = match page {
            Page::Switchboard => "listen.html",
            Page::Helia => "index.html",
        };
        let listener = Browser::start()?;
        let url = format!("{base}/{path}?relay={relay}{}", page_debug(page));
        let result = listener
            .page_result(&url, DEADLINE)
            .context("the listening page")?;
        anyhow::ensure!(
            result["ok"] == true,
            "the listening page: {}",
            result["error"].as_str().unwrap_or("failed")
        );
        let addr = result["addrs"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|a| a.as_str())
            .find(|a| a.starts_with(relay) && a.contains("/webrtc/"))
            .with_context(|| format!("the page has no /webrtc address: {}", result["addrs"]))?
            .to_owned();
        let cid = result["cid"].as_str().context("no CID")?.to_owned();
        Ok((addr, cid, listener))
    }

    /// Opens `page` dialing `target` and fetching `cid`; the connect and fetch times,
    /// checking the whole block came over a `/webrtc` connection.
    pub(super) fn dial_webrtc(
        &mut self,
        page: Page,
        target: &str,
        cid: &str,
    ) -> anyhow::Result<Outcome> {
        let base = self.site(page)?;
        let (path, connect_key) = match page {
            Page::Switchboard => ("dial.html?filter=all&", "ms"),
            Page::Helia => ("index.html?", "connectMs"),
        };
        let url = format!("{base}/{path}addr={target}&cids={cid}{}", page_debug(page));
        let browser = match &mut self.browser {
            Some(browser) => browser,
            browser => browser.insert(Browser::start()?),
        };
        let result = browser
            .page_result(&url, DEADLINE)
            .context("the dialing page")?;
        anyhow::ensure!(
            result["ok"] == true,
            "{}",
            result["error"].as_str().unwrap_or("the page failed")
        );
        let via = result["via"].as_str().unwrap_or("");
        anyhow::ensure!(
            via.contains("/webrtc"),
            "the dialer's connection is not /webrtc but {via:?}"
        );
        anyhow::ensure!(
            result["bytes"].as_u64() == Some(1024 * 1024),
            "fetched {} bytes of 1 MiB (a circuit carries 128 KiB)",
            result["bytes"]
        );
        let ms = |key: &str| Duration::from_secs_f64(result[key].as_f64().unwrap_or(0.0) / 1e3);
        Ok(Outcome {
            connect: ms(connect_key),
            blocks: Some(ms("fetchMs")),
        })
    }

    /// Opens `page` on `target`; the connect time the page measured.
    pub(super) fn dial(&mut self, page: Page, target: &str) -> anyhow::Result<Duration> {
        let (site, path, key) = match page {
            // The sites were built before the namespace was entered (`prepare`).
            Page::Switchboard => {
                if self.switchboard.is_none() {
                    self.switchboard = Some(Site::start(&crate::demo_page::site_dir())?);
                }
                (&self.switchboard, "dial.html?filter=all&", "ms")
            }
            Page::Helia => {
                if self.helia.is_none() {
                    self.helia = Some(Site::start(&crate::helia::browser_site_dir())?);
                }
                (&self.helia, "index.html?", "connectMs")
            }
        };
        let url = format!(
            "{}/{path}addr={target}",
            site.as_ref().context("the site was just started")?.base
        );
        let browser = match &mut self.browser {
            Some(browser) => browser,
            browser => browser.insert(Browser::start()?),
        };
        let result = browser.page_result(&url, DEADLINE)?;
        match result[key].as_f64() {
            Some(ms) if result["ok"] == true => Ok(Duration::from_secs_f64(ms / 1e3)),
            _ => bail!("{}", result["error"].as_str().unwrap_or("the page failed")),
        }
    }
}

/// `XTASK_PAGE_DEBUG=<namespaces>` (e.g. `libp2p:webrtc*`) turns on js-libp2p's debug logs in
/// the Helia page, which prints their end when it gives no result (a listening page's, after
/// each `/webrtc` row).
fn page_debug(page: Page) -> String {
    match (page, std::env::var("XTASK_PAGE_DEBUG")) {
        (Page::Helia, Ok(namespaces)) => format!("&debug={namespaces}"),
        _ => String::new(),
    }
}
