//! A real browser for the trace page's tests: Debian's Chromium, headless, driven through
//! chromedriver's WebDriver API. Where chromedriver is missing the tests skip with a note,
//! unless `SK_REQUIRE_BROWSER` is set (CI sets it), when they fail instead.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::wd::{Capabilities, WebDriverCompatibleCommand};
use fantoccini::{Client, ClientBuilder};
use serde_json::{json, Value};

pub struct Browser {
    pub client: Client,
    /// Where downloads land.
    pub downloads: tempfile::TempDir,
    driver: Child,
}

impl Drop for Browser {
    fn drop(&mut self) {
        // chromedriver and the browsers it started share its process group.
        // SAFETY: kill(2) on a process group this test started.
        unsafe { libc::kill(-(self.driver.id() as i32), libc::SIGKILL) };
        let _ = self.driver.wait();
    }
}

fn on_path(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?.to_str()?.split(':').map(|d| Path::new(d).join(name)).find(|p| p.is_file())
}

/// The browser's console messages as chromedriver keeps them (a Chromium extension command).
#[derive(Debug)]
struct BrowserLog;

impl WebDriverCompatibleCommand for BrowserLog {
    fn endpoint(&self, base: &url::Url, session: Option<&str>) -> Result<url::Url, url::ParseError> {
        base.join(&format!("session/{}/se/log", session.unwrap_or_default()))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(json!({"type": "browser"}).to_string()))
    }
}

impl Browser {
    /// A headless Chromium with a 1280x800 window, or `None` (after saying why) where there is
    /// none and `SK_REQUIRE_BROWSER` is not set.
    pub async fn start() -> Option<Browser> {
        let Some(driver_path) = on_path("chromedriver") else {
            assert!(
                std::env::var_os("SK_REQUIRE_BROWSER").is_none(),
                "chromedriver is required (SK_REQUIRE_BROWSER is set): apt-get install chromium chromium-driver"
            );
            eprintln!("skipped: chromedriver is not installed (apt-get install chromium chromium-driver)");
            return None;
        };
        let port = super::free_port();
        let driver = Command::new(driver_path)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("starting chromedriver");
        let downloads = tempfile::tempdir().unwrap();
        let mut options = json!({
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1280,800", "--force-device-scale-factor=1", "--hide-scrollbars",
                     "--no-first-run", "--disable-extensions", "--lang=en-US"],
            "prefs": {"download.default_directory": downloads.path(), "download.prompt_for_download": false},
        });
        if let Some(chromium) = on_path("chromium") {
            options["binary"] = json!(chromium);
        }
        let mut caps = Capabilities::new();
        caps.insert("goog:chromeOptions".into(), options);
        caps.insert("goog:loggingPrefs".into(), json!({"browser": "ALL"}));
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(30);
        let client = loop {
            let connector = hyper_util::client::legacy::connect::HttpConnector::new();
            match ClientBuilder::new(connector).capabilities(caps.clone()).connect(&url).await {
                Ok(client) => break client,
                // chromedriver takes a moment to listen.
                Err(_) if Instant::now() < deadline => tokio::time::sleep(Duration::from_millis(100)).await,
                Err(e) => panic!("no WebDriver session from chromedriver: {e}"),
            }
        };
        let browser = Browser { client, downloads, driver };
        // The viewport, not the window, is what the page gets: make it 1280x800.
        let inner: Value = browser.eval("return [window.innerWidth, window.innerHeight]").await;
        let (w, h) = (inner[0].as_u64().unwrap_or(1280) as u32, inner[1].as_u64().unwrap_or(800) as u32);
        if (w, h) != (1280, 800) {
            let (ww, wh) = browser.client.get_window_size().await.expect("window size");
            let (ww, wh) = (ww as u32 + 1280 - w.min(1280), wh as u32 + 800 - h.min(800));
            browser.client.set_window_size(ww, wh).await.expect("window size");
        }
        Some(browser)
    }

    pub async fn eval(&self, script: &str) -> Value {
        self.client.execute(script, vec![]).await.unwrap_or_else(|e| panic!("running {script:?}: {e}"))
    }

    /// Opens `url` and waits until the page says it has drawn its rows.
    pub async fn open(&self, url: &str) {
        self.client.goto(url).await.unwrap_or_else(|e| panic!("opening {url}: {e}"));
        self.wait_ready().await;
    }

    pub async fn wait_ready(&self) {
        self.wait_for("the page to draw", "return document.body && document.body.dataset.ready === '1'").await;
    }

    /// Polls `script` (which returns a boolean) every 100 ms for up to 20 s.
    pub async fn wait_for(&self, what: &str, script: &str) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if self.eval(script).await == json!(true) {
                return;
            }
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The keys of the rows the filters keep.
    pub async fn rows(&self) -> Vec<String> {
        serde_json::from_value(self.eval("return skPage.visibleKeys()").await).unwrap()
    }

    /// A real click at a point of the viewport.
    pub async fn click_at(&self, x: f64, y: f64) {
        use fantoccini::actions::{InputSource, MouseActions, PointerAction, MOUSE_BUTTON_LEFT};
        let mouse = MouseActions::new("mouse".into())
            .then(PointerAction::MoveTo { duration: None, x, y })
            .then(PointerAction::Down { button: MOUSE_BUTTON_LEFT })
            .then(PointerAction::Up { button: MOUSE_BUTTON_LEFT });
        self.client.perform_actions(mouse).await.expect("click");
        self.client.release_actions().await.expect("release");
    }

    /// Console messages at level SEVERE (errors) since the last call.
    pub async fn console_errors(&self) -> Vec<String> {
        let log = self.client.issue_cmd(BrowserLog).await.expect("the browser's log");
        log.as_array()
            .into_iter()
            .flatten()
            .filter(|m| m["level"] == "SEVERE")
            .map(|m| m["message"].as_str().unwrap_or_default().to_string())
            .collect()
    }

    /// A PNG of the viewport.
    pub async fn screenshot(&self, path: &Path) {
        let png = self.client.screenshot().await.expect("screenshot");
        std::fs::write(path, png).expect("writing the screenshot");
    }

    /// Waits for a trace (`*.sktrace`) to be downloaded whole and returns its path.
    pub async fn downloaded(&self) -> PathBuf {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let done: Vec<PathBuf> = std::fs::read_dir(self.downloads.path())
                .unwrap()
                .filter_map(|e| e.ok().map(|e| e.path()))
                // Chromium writes elsewhere and renames the file when it is whole.
                .filter(|p| p.extension().is_some_and(|x| x == "sktrace"))
                .collect();
            if let Some(file) = done.into_iter().next() {
                return file;
            }
            assert!(Instant::now() < deadline, "timed out waiting for a download");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn close(self) {
        let _ = self.client.clone().close().await;
    }
}
