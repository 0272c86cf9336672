//! What the browser tests share: the runs written into the store before `aide serve`
//! starts ([`seed`]), tokens made over the HTTP API, and the UI's steps (logging in,
//! opening a page) on a [`Browser`](aide_testkit::browser::Browser).
#![allow(dead_code)]

pub mod seed;

use std::time::Duration;

use aide_testkit::browser::Browser;
use thirtyfour::prelude::*;

/// How long a page has to show what a step waits for.
pub const PAGE: Duration = Duration::from_secs(30);

/// Makes a token of `project` with `role` through `POST /api/v1/tokens` as `admin`.
pub async fn make_token(web: &str, admin: &str, role: &str) -> String {
    let created: serde_json::Value = reqwest::Client::new()
        .post(format!("{web}/api/v1/tokens"))
        .bearer_auth(admin)
        .json(&serde_json::json!({ "project": "default", "role": role, "label": format!("browser {role}") }))
        .send()
        .await
        .expect("create a token")
        .json()
        .await
        .expect("JSON");
    created["token"].as_str().expect("the secret").to_owned()
}

/// Opens the UI at `web` and logs in with `token` through the login page.
pub async fn log_in(browser: &Browser, web: &str, token: &str) {
    browser
        .driver
        .goto(format!("{web}/#/login"))
        .await
        .expect("open");
    let field = browser
        .wait_for("the login form", PAGE, || async {
            browser.driver.find(By::Css("input#token")).await.ok()
        })
        .await;
    field.send_keys(token).await.expect("type the token");
    click(browser, "button#login", PAGE).await;
    browser
        .wait_for("the runs page after login", PAGE, || async {
            browser.driver.find(By::Css("table#runs")).await.ok()
        })
        .await;
}

/// Logs out with the header's button.
pub async fn log_out(browser: &Browser) {
    click(browser, "button#logout", PAGE).await;
    browser
        .wait_for("the login page", PAGE, || async {
            browser.driver.find(By::Css("input#token")).await.ok()
        })
        .await;
}

/// Goes to a page of the UI (`#/runs/<id>`, ...).
pub async fn open(browser: &Browser, web: &str, route: &str) {
    browser
        .driver
        .goto(format!("{web}/{route}"))
        .await
        .expect("navigate");
}

/// The text of `css`, once it holds something.
pub async fn text_of(browser: &Browser, css: &str) -> String {
    browser
        .wait_for(&format!("text in {css}"), PAGE, || async {
            browser.text(css).await.filter(|t| !t.trim().is_empty())
        })
        .await
}

/// Clicks `css` once it is on the page and takes the click (within `within`): a click
/// that lands while the page redraws (a stale or covered element) is tried again.
pub async fn click(browser: &Browser, css: &str, within: Duration) {
    browser
        .wait_for(&format!("{css} to click"), within, || async {
            let element = browser.driver.find(By::Css(css)).await.ok()?;
            element.click().await.ok()
        })
        .await;
}

/// Waits until the run page shows `status`.
pub async fn wait_status(browser: &Browser, status: &str, within: Duration) {
    browser
        .wait_for(&format!("the run {status}"), within, || async {
            (browser.text("#run-status").await.as_deref() == Some(status)).then_some(())
        })
        .await;
}
