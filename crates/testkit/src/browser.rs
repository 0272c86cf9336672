//! A real browser for the web UI's tests: Debian's headless Chromium driven through its
//! chromedriver (a child process on a free port) with the WebDriver client thirtyfour.
//! A missing browser follows the [`require`](crate::require) rule. Screenshots go to a
//! directory the caller names (under the target directory).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use thirtyfour::prelude::*;

use crate::{ChildGuard, free_port, wait_for_port};

/// A headless Chromium session.
pub struct Browser {
    pub driver: WebDriver,
    shots: PathBuf,
    _chromedriver: ChildGuard,
}

impl std::fmt::Debug for Browser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Browser")
            .field("shots", &self.shots)
            .finish()
    }
}

impl Browser {
    /// Starts chromedriver and a headless Chromium whose screenshots go to `shots`; `None`
    /// (or a failure under `CI`) when either is not installed.
    pub async fn start(shots: &Path) -> Option<Self> {
        let (Some(chromium), Some(chromedriver)) = (find("chromium"), find("chromedriver")) else {
            return crate::unavailable(
                "a headless browser",
                "chromium and chromedriver are not installed (deploy/dev/web-tools.sh)",
            );
        };
        let port = free_port();
        let guard = ChildGuard::spawn(
            "chromedriver",
            Command::new(chromedriver)
                .arg(format!("--port={port}"))
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null()),
        );
        let address = std::net::SocketAddr::from(([127, 0, 0, 1], port));
        assert!(
            wait_for_port(address, Duration::from_secs(20)),
            "chromedriver did not listen on {address}"
        );
        let mut caps = DesiredCapabilities::chrome();
        caps.set_binary(&chromium.display().to_string())
            .expect("binary");
        for arg in [
            "--headless=new",
            "--no-sandbox",
            "--disable-dev-shm-usage",
            "--disable-gpu",
            "--window-size=1400,1000",
        ] {
            caps.add_arg(arg).expect("argument");
        }
        let driver = WebDriver::new(format!("http://{address}"), caps)
            .await
            .expect("a Chromium session");
        std::fs::create_dir_all(shots).expect("screenshot directory");
        Some(Self {
            driver,
            shots: shots.to_path_buf(),
            _chromedriver: guard,
        })
    }

    /// Saves the page as `<name>.png` in the screenshot directory; its path.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let path = self.shots.join(format!("{name}.png"));
        self.driver
            .screenshot(&path)
            .await
            .unwrap_or_else(|e| panic!("screenshot {}: {e}", path.display()));
        path
    }

    /// Waits until `probe` gives a value, retrying every 100 ms; panics after `within`,
    /// saving a screenshot named after `what`.
    pub async fn wait_for<T, F, Fut>(&self, what: &str, within: Duration, mut probe: F) -> T
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Option<T>>,
    {
        let deadline = Instant::now() + within;
        loop {
            if let Some(value) = probe().await {
                return value;
            }
            if Instant::now() >= deadline {
                let name: String = what
                    .chars()
                    .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
                    .collect();
                let shot = self.screenshot(&format!("timeout-{name}")).await;
                panic!("{what}: not within {within:?} (see {})", shot.display());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The text of the first element matching `css`, if there is one.
    pub async fn text(&self, css: &str) -> Option<String> {
        let element = self.driver.find(By::Css(css)).await.ok()?;
        element.text().await.ok()
    }

    /// How many elements match `css`.
    pub async fn count(&self, css: &str) -> usize {
        self.driver
            .find_all(By::Css(css))
            .await
            .map_or(0, |all| all.len())
    }

    /// Ends the session and the browser.
    pub async fn quit(self) {
        let _ = self.driver.quit().await;
    }
}

/// `name` on the `PATH`.
fn find(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|path| path.is_file())
    })
}
