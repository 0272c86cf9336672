//! Who is calling over HTTP: the same bearer tokens as gRPC, sent as `Authorization: Bearer`
//! or, from the web UI, in the `HttpOnly` session cookie that logging in sets. Either is
//! resolved by the same [`Access`](crate::access::Access) into a [`Caller`].
//!
//! The cookie is `SameSite=Strict`, so no other site's page can make a browser send it; as
//! a second guard, a state-changing request authenticated by the cookie must not come from
//! another origin (its `Origin` header, when present, names this host).

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, header};
use tonic::Code;
use tonic::metadata::MetadataMap;

use super::Shared;
use super::problem::Problem;
use crate::access::Caller;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "aide_session";

/// An authenticated request: the caller, and the metadata that proves it to the gRPC
/// services the HTTP API calls in-process.
#[derive(Debug)]
pub struct Authed {
    pub caller: Caller,
    pub metadata: MetadataMap,
}

impl Authed {
    /// A gRPC request carrying this caller's credentials.
    pub fn request<T>(&self, message: T) -> tonic::Request<T> {
        tonic::Request::from_parts(self.metadata.clone(), tonic::Extensions::default(), message)
    }
}

impl FromRequestParts<Shared> for Authed {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, api: &Shared) -> Result<Self, Problem> {
        let from_cookie = !parts.headers.contains_key(header::AUTHORIZATION);
        if from_cookie && is_state_changing(&parts.method) && !same_origin(&parts.headers) {
            return Err(Problem::new(
                Code::PermissionDenied,
                "a request from another origin may not use this site's session",
            ));
        }
        let metadata = metadata_of(&parts.headers);
        let caller = api.access.caller(&metadata).await.map_err(Problem::from)?;
        Ok(Self { caller, metadata })
    }
}

/// The request's credentials as gRPC metadata: its `Authorization` header, or else its
/// session cookie as a bearer token.
pub fn metadata_of(headers: &HeaderMap) -> MetadataMap {
    let mut http = HeaderMap::new();
    if let Some(value) = headers.get(header::AUTHORIZATION) {
        http.insert(header::AUTHORIZATION, value.clone());
    } else if let Some(token) = session_token(headers)
        && let Ok(value) = HeaderValue::from_str(&format!("Bearer {token}"))
    {
        http.insert(header::AUTHORIZATION, value);
    }
    MetadataMap::from_headers(http)
}

/// The session cookie's value, if the request carries one.
fn session_token(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|line| line.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find_map(|(name, value)| (name == SESSION_COOKIE && !value.is_empty()).then_some(value))
}

fn is_state_changing(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Whether the request's `Origin` (when it has one) is this host.
pub(super) fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|o| o.to_str().ok()) else {
        return true;
    };
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    let origin_host = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"));
    matches!((origin_host, host), (Some(o), Some(h)) if o.eq_ignore_ascii_case(h))
}

/// The `Set-Cookie` value of a session holding `token`.
pub fn session_cookie(token: &str, secure: bool) -> String {
    format!(
        "{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict{}",
        if secure { "; Secure" } else { "" }
    )
}

/// The `Set-Cookie` value that ends a session.
pub fn cleared_cookie(secure: bool) -> String {
    format!(
        "{SESSION_COOKIE}=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict{}",
        if secure { "; Secure" } else { "" }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(header::HeaderName, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(name.clone(), HeaderValue::from_str(value).expect("value"));
        }
        map
    }

    #[test]
    fn the_cookie_becomes_a_bearer_unless_a_header_is_given() {
        let cookie = headers(&[(header::COOKIE, "theme=dark; aide_session=abc123")]);
        let metadata = metadata_of(&cookie);
        assert_eq!(metadata.get("authorization").expect("set"), "Bearer abc123");
        let both = headers(&[
            (header::COOKIE, "aide_session=abc123"),
            (header::AUTHORIZATION, "Bearer other"),
        ]);
        assert_eq!(
            metadata_of(&both).get("authorization").expect("set"),
            "Bearer other"
        );
        assert!(metadata_of(&headers(&[(header::COOKIE, "aide_session=")])).is_empty());
    }

    #[test]
    fn another_origin_is_told_apart_from_this_host() {
        let same = headers(&[
            (header::ORIGIN, "http://127.0.0.1:8080"),
            (header::HOST, "127.0.0.1:8080"),
        ]);
        assert!(same_origin(&same));
        let other = headers(&[
            (header::ORIGIN, "https://evil.example"),
            (header::HOST, "127.0.0.1:8080"),
        ]);
        assert!(!same_origin(&other));
        assert!(
            same_origin(&headers(&[(header::HOST, "a")])),
            "no Origin: not a browser's cross-site call"
        );
    }

    #[test]
    fn cookies_are_http_only_strict_and_secure_off_loopback() {
        let cookie = session_cookie("t", true);
        assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"));
        assert!(cookie.ends_with("; Secure"));
        assert!(!session_cookie("t", false).contains("Secure"));
        assert!(cleared_cookie(false).contains("Max-Age=0"));
    }
}
