//! The bearer token on the wire: `authorization: Bearer aide_…` metadata, attached by a
//! client's [`Bearer`] interceptor and read back on the server by [`token_of`].

use aide_core::access::Token;
use tonic::metadata::{AsciiMetadataValue, MetadataMap};
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;
use tonic::{Request, Status};

/// The metadata key of the token.
pub const AUTHORIZATION: &str = "authorization";

/// Attaches a token to every request of a client; without one, requests go unchanged (for
/// services that need none, such as the embedded `aide run`'s).
#[derive(Clone, Default)]
pub struct Bearer(Option<AsciiMetadataValue>);

impl Bearer {
    /// An interceptor sending `token`.
    pub fn new(token: &Token) -> Self {
        let value = format!("Bearer {}", token.expose())
            .parse()
            .expect("a token is ASCII");
        Self(Some(value))
    }

    /// An interceptor sending nothing.
    pub fn none() -> Self {
        Self(None)
    }
}

impl std::fmt::Debug for Bearer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shown = if self.0.is_some() {
            "[redacted]"
        } else {
            "none"
        };
        write!(f, "Bearer({shown})")
    }
}

impl Interceptor for Bearer {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        if let Some(value) = &self.0 {
            request.metadata_mut().insert(AUTHORIZATION, value.clone());
        }
        Ok(request)
    }
}

/// A channel whose every request carries a client's token.
pub type AuthedChannel = Authed<Channel>;

/// Any client transport with a token on every request.
pub type Authed<S> = InterceptedService<S, Bearer>;

/// `channel` with `bearer` on every request.
pub fn authed(channel: Channel, bearer: Bearer) -> AuthedChannel {
    InterceptedService::new(channel, bearer)
}

/// Why a request carries no usable token. The messages never repeat what was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BearerError {
    #[error("no token: send `authorization: Bearer <token>` (AIDE_TOKEN, or `aide login`)")]
    Missing,
    #[error("the authorization metadata is not `Bearer` and an aide token")]
    Malformed,
}

impl From<BearerError> for Status {
    fn from(err: BearerError) -> Self {
        Status::unauthenticated(err.to_string())
    }
}

/// The token a request carries.
pub fn token_of(metadata: &MetadataMap) -> Result<Token, BearerError> {
    let value = metadata.get(AUTHORIZATION).ok_or(BearerError::Missing)?;
    let text = value.to_str().map_err(|_| BearerError::Malformed)?;
    let (scheme, secret) = text.trim().split_once(' ').ok_or(BearerError::Malformed)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(BearerError::Malformed);
    }
    secret.parse().map_err(|_| BearerError::Malformed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_travels_in_the_metadata_and_reads_back() {
        let token = Token::generate().expect("token");
        let request = Bearer::new(&token)
            .call(Request::new(()))
            .expect("intercept");
        let read = token_of(request.metadata()).expect("a token");
        assert_eq!(read.hash(), token.hash());
        assert!(!format!("{:?}", Bearer::new(&token)).contains(&token.expose()[5..]));

        let bare = Bearer::none().call(Request::new(())).expect("intercept");
        assert_eq!(token_of(bare.metadata()).err(), Some(BearerError::Missing));
        for bad in ["Basic abc", "Bearer", "Bearer aide_zz", "aide_00"] {
            let mut request = Request::new(());
            request
                .metadata_mut()
                .insert(AUTHORIZATION, bad.parse().expect("ascii"));
            assert_eq!(
                token_of(request.metadata()).err(),
                Some(BearerError::Malformed),
                "{bad}"
            );
        }
    }
}
