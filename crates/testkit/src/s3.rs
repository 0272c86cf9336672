//! The S3-compatible server of the test environment: SeaweedFS (`weed mini`, started by
//! `deploy/dev/services.sh`) or any other, named by `AIDE_TEST_S3_URL` (default
//! `s3://aide/test`: bucket and prefix), `AIDE_TEST_S3_ENDPOINT` (default
//! `http://127.0.0.1:8333`), `AIDE_TEST_S3_ACCESS_KEY` and `AIDE_TEST_S3_SECRET_KEY`
//! (defaults: the keys `services.sh` starts SeaweedFS with). A server that does not accept
//! connections falls under the [`crate::require`] rule. Each [`TestS3`] has a prefix of its
//! own, so tests sharing the bucket never see each other's objects.
//!
//! The settings are handed to the code under test as values (S3 configuration keys named like
//! the `AWS_*` variables in lower case), never through the process environment.

/// `AIDE_TEST_S3_URL` when unset.
pub const DEFAULT_URL: &str = "s3://aide/test";
/// `AIDE_TEST_S3_ENDPOINT` when unset.
pub const DEFAULT_ENDPOINT: &str = "http://127.0.0.1:8333";
/// `AIDE_TEST_S3_ACCESS_KEY` when unset (what `services.sh` gives SeaweedFS).
pub const DEFAULT_ACCESS_KEY: &str = "aide";
/// `AIDE_TEST_S3_SECRET_KEY` when unset (what `services.sh` gives SeaweedFS).
pub const DEFAULT_SECRET_KEY: &str = "aide-secret";

/// One test's place on the test S3 server.
#[derive(Debug, Clone)]
pub struct TestS3 {
    /// `s3://<bucket>/<prefix>/<unique>`: this test's own prefix.
    pub url: String,
    /// The S3 settings to reach the server: `(key, value)` with keys `aws_endpoint`,
    /// `aws_access_key_id`, `aws_secret_access_key`, `aws_region` and `aws_allow_http`.
    pub settings: Vec<(String, String)>,
}

fn var(name: &str, default: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| default.to_owned())
}

/// A fresh prefix on the test S3 server when it accepts connections; otherwise fails under
/// CI or returns `None` after a SKIPPED line.
pub fn require() -> Option<TestS3> {
    let base = var("AIDE_TEST_S3_URL", DEFAULT_URL);
    let endpoint = var("AIDE_TEST_S3_ENDPOINT", DEFAULT_ENDPOINT);
    let reachable = crate::net::url_reachable(&endpoint, 80);
    crate::require::require(&format!("S3 ({base}) at {endpoint}"), reachable)?;
    let unique = uuid::Uuid::now_v7().simple();
    let settings = [
        ("aws_endpoint", endpoint.clone()),
        (
            "aws_access_key_id",
            var("AIDE_TEST_S3_ACCESS_KEY", DEFAULT_ACCESS_KEY),
        ),
        (
            "aws_secret_access_key",
            var("AIDE_TEST_S3_SECRET_KEY", DEFAULT_SECRET_KEY),
        ),
        ("aws_region", "us-east-1".to_owned()),
        (
            "aws_allow_http",
            endpoint.starts_with("http://").to_string(),
        ),
    ];
    Some(TestS3 {
        url: format!("{}/{unique}", base.trim_end_matches('/')),
        settings: settings
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect(),
    })
}
