//! A real headless Chromium (Debian's package) driven over the DevTools protocol: open a page,
//! wait for what its scripts draw, type, click, read values, take a screenshot, and collect
//! everything the browser reports as a problem (uncaught exceptions, console errors and
//! warnings, failed loads, Content-Security-Policy violations).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chromiumoxide::cdp::browser_protocol::log::{EventEntryAdded, LogEntryLevel, LogEntrySource};
use chromiumoxide::cdp::js_protocol::runtime::{
    ConsoleApiCalledType, EventConsoleApiCalled, EventExceptionThrown,
};
use chromiumoxide::page::ScreenshotParams;
use chromiumoxide::{Browser, BrowserConfig, Page};
use futures_util::StreamExt;
use serde::de::DeserializeOwned;
use tokio::task::JoinHandle;

/// How long a page may take to draw what a test waits for.
const PATIENCE: Duration = Duration::from_secs(30);

/// The Chromium binary, or `None` outside CI when it is not installed (CI installs it).
pub fn executable() -> Option<&'static str> {
    let found = ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .into_iter()
        .find(|path| Path::new(path).exists());
    if found.is_none() {
        assert!(
            std::env::var("CI").map(|ci| ci != "true").unwrap_or(true),
            "CI=true but Chromium is not installed: .ci/run installs Debian's chromium package"
        );
        eprintln!("chromium is not installed: skipping the dashboard's browser tests");
    }
    found
}

/// A problem the browser reported while a page ran.
#[derive(Debug, Clone)]
pub struct Problem {
    /// Where it came from: `exception`, `console` or the log's source (`network`, `security`…).
    pub source: String,
    /// What it said.
    pub text: String,
}

/// A running headless Chromium with its own profile.
pub struct Chromium {
    browser: Browser,
    handler: JoinHandle<()>,
    _profile: tempfile::TempDir,
}

impl Chromium {
    /// Starts `executable` headless with a fresh profile and a 1280-pixel-wide window.
    pub async fn launch(executable: &str) -> Chromium {
        let profile = tempfile::tempdir().expect("profile folder");
        let config = BrowserConfig::builder()
            .chrome_executable(executable)
            .user_data_dir(profile.path())
            .no_sandbox()
            .window_size(1280, 1000)
            .viewport(None)
            .args([
                "--disable-gpu",
                "--disable-quic",
                "--disable-background-networking",
            ])
            .launch_timeout(Duration::from_secs(60))
            .build()
            .expect("browser configuration");
        let (browser, mut events) = Browser::launch(config).await.expect("launch chromium");
        let handler = tokio::spawn(async move { while events.next().await.is_some() {} });
        Chromium {
            browser,
            handler,
            _profile: profile,
        }
    }

    /// Opens `url` in a new tab, recording its problems from before the first script runs.
    pub async fn open(&self, url: &str) -> Tab {
        let page = self.browser.new_page("about:blank").await.expect("new tab");
        let problems: Problems = Arc::default();
        let mut exceptions = page
            .event_listener::<EventExceptionThrown>()
            .await
            .expect("listen");
        let sink = Arc::clone(&problems);
        let exception_task = tokio::spawn(async move {
            while let Some(event) = exceptions.next().await {
                let details = &event.exception_details;
                let message = details
                    .exception
                    .as_ref()
                    .and_then(|exception| exception.description.clone())
                    .unwrap_or_else(|| details.text.clone());
                push(&sink, "exception", message);
            }
        });
        let mut console = page
            .event_listener::<EventConsoleApiCalled>()
            .await
            .expect("listen");
        let sink = Arc::clone(&problems);
        let console_task = tokio::spawn(async move {
            while let Some(event) = console.next().await {
                if matches!(
                    event.r#type,
                    ConsoleApiCalledType::Error
                        | ConsoleApiCalledType::Warning
                        | ConsoleApiCalledType::Assert
                ) {
                    let text: Vec<String> = event
                        .args
                        .iter()
                        .map(|arg| match &arg.value {
                            Some(value) => value.to_string(),
                            None => arg.description.clone().unwrap_or_default(),
                        })
                        .collect();
                    push(&sink, "console", text.join(" "));
                }
            }
        });
        let mut log = page.event_listener::<EventEntryAdded>().await.expect("listen");
        let sink = Arc::clone(&problems);
        let log_task = tokio::spawn(async move {
            while let Some(event) = log.next().await {
                let entry = &event.entry;
                if matches!(entry.level, LogEntryLevel::Error | LogEntryLevel::Warning) {
                    let source = match entry.source {
                        LogEntrySource::Network => "network".to_string(),
                        LogEntrySource::Security => "security".to_string(),
                        ref other => format!("{other:?}").to_lowercase(),
                    };
                    let place = entry.url.clone().unwrap_or_default();
                    push(&sink, &source, format!("{} {place}", entry.text));
                }
            }
        });
        let listeners = vec![exception_task, console_task, log_task];
        page.goto(url).await.expect("open the page");
        Tab {
            page,
            problems,
            listeners,
        }
    }

    /// Closes the browser.
    pub async fn close(mut self) {
        let _ = self.browser.close().await;
        let _ = self.browser.wait().await;
        self.handler.abort();
    }
}

/// What a tab's listeners collect.
type Problems = Arc<Mutex<Vec<Problem>>>;

fn push(problems: &Problems, source: &str, text: String) {
    problems
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .push(Problem {
            source: source.to_string(),
            text,
        });
}

/// One open page.
pub struct Tab {
    page: Page,
    problems: Problems,
    listeners: Vec<JoinHandle<()>>,
}

impl Drop for Tab {
    fn drop(&mut self) {
        for listener in &self.listeners {
            listener.abort();
        }
    }
}

impl Tab {
    /// The value of the JavaScript expression `expression` (awaited when it is a promise).
    pub async fn eval<T: DeserializeOwned>(&self, expression: &str) -> T {
        self.page
            .evaluate(expression)
            .await
            .unwrap_or_else(|error| panic!("{expression}: {error}"))
            .into_value()
            .unwrap_or_else(|error| panic!("{expression}: {error}"))
    }

    /// Waits until the JavaScript expression `condition` is true; panics naming `what` and the
    /// page's problems if it is not within [`PATIENCE`].
    pub async fn wait_for(&self, condition: &str, what: &str) {
        let start = Instant::now();
        loop {
            let met = self
                .page
                .evaluate(format!("Boolean({condition})"))
                .await
                .ok()
                .and_then(|result| result.into_value::<bool>().ok())
                .unwrap_or(false);
            if met {
                return;
            }
            if start.elapsed() > PATIENCE {
                let body: String = self.eval("document.body.innerText").await;
                panic!(
                    "the page did not show {what} within {PATIENCE:?} ({condition}); problems: {:?}; page text:\n{body}",
                    self.problems()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Types `text` into the element `selector`.
    pub async fn type_into(&self, selector: &str, text: &str) {
        let field = self.page.find_element(selector).await.expect(selector);
        field.click().await.expect(selector);
        field.type_str(text).await.expect(selector);
    }

    /// Clicks the element `selector`.
    pub async fn click(&self, selector: &str) {
        let target = self.page.find_element(selector).await.expect(selector);
        target.click().await.expect(selector);
    }

    /// Loads the page again.
    pub async fn reload(&self) {
        self.page.reload().await.expect("reload");
    }

    /// What the browser reported as problems so far, in order.
    pub fn problems(&self) -> Vec<Problem> {
        self.problems
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Saves a screenshot of the whole page as `name`.png in the test's target folder, and
    /// returns its path.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}.png"));
        self.page
            .save_screenshot(ScreenshotParams::builder().full_page(true).build(), &path)
            .await
            .expect("screenshot");
        path
    }
}
