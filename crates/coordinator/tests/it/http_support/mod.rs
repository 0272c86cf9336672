//! The harness of the HTTP API tests: the API harness's store and history helpers (SQLite
//! or a fresh Postgres database), with the HTTP API and web UI served over the same store
//! on a loopback port, tokens of every role and of another project, and a client that reads
//! problems.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use aide_coordinator::access::Access;
use aide_coordinator::access::admin::AdminService;
use aide_coordinator::api::{CoordinatorService, RunFeeds, WatchSlots};
use aide_coordinator::http::{HttpApi, HttpSettings};
use aide_core::access::{Role, Token};
use aide_store::AccessStore;
use reqwest::Method;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::api_support::{Harness, mint, test_config};

/// One test's HTTP server over an API harness.
pub struct Web {
    pub harness: Harness,
    pub url: String,
    pub viewer: Token,
    /// A member of another project.
    pub stranger: Token,
    pub http: reqwest::Client,
    shutdown: CancellationToken,
}

impl Drop for Web {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

impl Web {
    pub async fn sqlite() -> Option<Self> {
        Some(Self::serve(Harness::sqlite().await?).await)
    }

    pub async fn postgres() -> Option<Self> {
        Some(Self::serve(Harness::postgres().await?).await)
    }

    async fn serve(harness: Harness) -> Self {
        let store = harness.store.clone();
        let shutdown = CancellationToken::new();
        let config = test_config();
        let feeds = RunFeeds::new(
            store.clone(),
            harness.notifier.clone(),
            config.feed_settings(),
        );
        let watchers = WatchSlots::default();
        let access = Access::new(store.clone());
        let settings = HttpSettings {
            secure_cookies: false,
            max_watch_streams: 200,
            runner_heartbeat: config.heartbeat_interval,
        };
        let coordinator =
            CoordinatorService::with_notifier(store.clone(), config, harness.notifier.clone())
                .with_access(access.clone())
                .with_feeds(feeds.clone(), watchers.clone());
        let api = HttpApi {
            store: store.clone(),
            admin: Arc::new(AdminService::new(store.clone(), access.clone())),
            coordinator: Arc::new(coordinator),
            access,
            feeds,
            watchers,
            settings,
            shutdown: shutdown.clone(),
        };
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let plaintext = aide_service::tls::TlsConfig::plaintext();
        let server = aide_coordinator::http::start(api, listener, &plaintext).expect("serve");
        let url = format!("http://{}", server.address);
        store
            .create_project(&"other".parse().expect("name"))
            .await
            .expect("project");
        let viewer = mint(&*store, "default", Role::Viewer).await;
        let stranger = mint(&*store, "other", Role::Member).await;
        Self {
            harness,
            url,
            viewer,
            stranger,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .expect("client"),
            shutdown,
        }
    }

    /// A request to `path` sending `token` as a bearer (or nothing).
    pub fn request(
        &self,
        method: Method,
        path: &str,
        token: Option<&Token>,
    ) -> reqwest::RequestBuilder {
        let request = self.http.request(method, format!("{}{path}", self.url));
        match token {
            Some(token) => request.bearer_auth(token.expose()),
            None => request,
        }
    }

    /// GET `path` as `token`, expecting 200; its JSON.
    pub async fn get_json(&self, path: &str, token: &Token) -> serde_json::Value {
        let response = self
            .request(Method::GET, path, Some(token))
            .send()
            .await
            .expect("request");
        let status = response.status();
        let body = response.text().await.expect("body");
        assert_eq!(status, 200, "GET {path}: {body}");
        serde_json::from_str(&body).expect("JSON")
    }

    /// Sends `request`; its status and problem (asserting the problem+json shape).
    pub async fn problem(request: reqwest::RequestBuilder) -> (u16, serde_json::Value) {
        let response = request.send().await.expect("request");
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let body: serde_json::Value = response.json().await.expect("a JSON problem");
        assert_eq!(content_type, "application/problem+json", "{body}");
        assert_eq!(body["status"], status, "{body}");
        assert!(
            body["detail"].as_str().is_some_and(|d| !d.is_empty()),
            "{body}"
        );
        (status, body)
    }

    pub fn member(&self) -> &Token {
        &self.harness.member
    }

    pub fn admin(&self) -> &Token {
        &self.harness.admin
    }
}

/// A sweep of the house-prices task under one arm, over `seeds`, in the default project.
pub fn house_prices_sweep(name: &str, seeds: Vec<u64>) -> aide_store::NewSweep {
    use aide_core::sweep::definition::SweepBudget;
    use aide_core::sweep::{SweepArm, SweepDefinition, SweepTask};
    aide_store::NewSweep {
        project: aide_core::access::ProjectName::default_project(),
        name: name.into(),
        definition: SweepDefinition {
            tasks: vec![SweepTask {
                name: "house-prices".into(),
                task: crate::api_support::house_prices_task(),
                leaderboard: None,
                grader: None,
            }],
            arms: vec![SweepArm {
                name: "default".into(),
                settings: aide_core::RunSettings::default(),
            }],
            seeds,
        },
        budget: SweepBudget {
            cells_at_once: Some(1),
            ..SweepBudget::default()
        },
    }
}

/// Runs one test body against a web harness and cleans up even when the body panics.
pub async fn run_web<F, Fut>(web: Option<Web>, body: F)
where
    F: FnOnce(Arc<Web>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let Some(web) = web else { return };
    let web = Arc::new(web);
    let outcome = tokio::spawn(body(web.clone())).await;
    web.shutdown.cancel();
    web.harness.cleanup().await;
    if let Err(err) = outcome {
        std::panic::resume_unwind(err.into_panic());
    }
}

/// Both backends of one test body.
#[macro_export]
macro_rules! web_tests {
    ($($name:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    $crate::http_support::run_web($crate::http_support::Web::sqlite().await, super::$name).await;
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    $crate::http_support::run_web($crate::http_support::Web::postgres().await, super::$name).await;
                }
            )+
        }
    };
}
