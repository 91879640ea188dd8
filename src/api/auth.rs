//! Bearer-token authentication of API clients.
//!
//! Each client has a token in the config; a call of the `Gateway` service carries it as the metadata
//! `authorization: Bearer <token>`. The check runs as a tonic interceptor in front of the service only, so the
//! health and reflection services stay open. Failed attempts are counted for the metrics module.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tonic::{Request, Status};

/// The authenticated client of a request, put in the request's extensions by [`Authenticator`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthenticatedClient(pub String);

/// One client's credentials.
#[derive(Debug, Clone)]
pub struct ClientToken {
    /// The client's name (it scopes idempotency keys and appears in logs).
    pub client: String,
    /// The secret the client presents.
    pub token: String,
}

/// Why a request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("missing `authorization` metadata: send `authorization: Bearer <token>`")]
    Missing,
    #[error("malformed `authorization` metadata: expected `Bearer <token>`")]
    Malformed,
    #[error("unknown token")]
    UnknownToken,
}

impl From<AuthError> for Status {
    fn from(err: AuthError) -> Self {
        Status::unauthenticated(err.to_string())
    }
}

/// Checks tokens; cheap to clone (the clone shares the token list and the counter).
#[derive(Debug, Clone)]
pub struct Authenticator {
    tokens: Arc<Vec<ClientToken>>,
    /// No clients configured: every request is [`ANONYMOUS`] (the config allows this on loopback only).
    open: bool,
    failures: Arc<AtomicU64>,
}

/// The client name of requests to an API without configured clients.
pub const ANONYMOUS: &str = "anonymous";

impl Authenticator {
    /// Requests must carry one of these tokens.
    pub fn new(tokens: Vec<ClientToken>) -> Self {
        Authenticator {
            tokens: Arc::new(tokens),
            open: false,
            failures: Arc::new(AtomicU64::new(0)),
        }
    }

    /// No authentication: the config has no `[[api.clients]]` (allowed only on a loopback address).
    pub fn open() -> Self {
        Authenticator {
            tokens: Arc::new(Vec::new()),
            open: true,
            failures: Arc::new(AtomicU64::new(0)),
        }
    }

    /// How many requests were refused since start (missing, malformed or unknown token).
    pub fn failures(&self) -> u64 {
        self.failures.load(Ordering::Relaxed)
    }

    /// The shared failure counter, for the metrics module.
    pub fn failure_counter(&self) -> Arc<AtomicU64> {
        Arc::clone(&self.failures)
    }

    /// The client a raw `authorization` value belongs to.
    pub fn check(&self, header: Option<&[u8]>) -> Result<AuthenticatedClient, AuthError> {
        let result = self.check_uncounted(header);
        if result.is_err() {
            self.failures.fetch_add(1, Ordering::Relaxed);
        }
        result
    }

    fn check_uncounted(&self, header: Option<&[u8]>) -> Result<AuthenticatedClient, AuthError> {
        if self.open {
            return Ok(AuthenticatedClient(ANONYMOUS.to_owned()));
        }
        let header = header.ok_or(AuthError::Missing)?;
        let header = std::str::from_utf8(header).map_err(|_| AuthError::Malformed)?;
        let (scheme, token) = header.trim().split_once(' ').ok_or(AuthError::Malformed)?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(AuthError::Malformed);
        }
        let token = token.trim().as_bytes();
        if token.is_empty() {
            return Err(AuthError::Malformed);
        }
        // Compare with every token, in time independent of where they differ, so timing tells nothing.
        let mut found = None;
        for entry in self.tokens.iter() {
            if constant_time_eq(entry.token.as_bytes(), token) && found.is_none() {
                found = Some(entry.client.clone());
            }
        }
        found
            .map(AuthenticatedClient)
            .ok_or(AuthError::UnknownToken)
    }

    /// The interceptor for the `Gateway` service.
    #[allow(clippy::result_large_err)]
    pub fn intercept(&self, mut request: Request<()>) -> Result<Request<()>, Status> {
        let header = request
            .metadata()
            .get("authorization")
            .map(|v| v.as_bytes().to_vec());
        let client = self.check(header.as_deref())?;
        request.extensions_mut().insert(client);
        Ok(request)
    }
}

/// Equality of two byte strings in time that depends only on their lengths.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auth() -> Authenticator {
        Authenticator::new(vec![
            ClientToken {
                client: "im".into(),
                token: "s3cret".into(),
            },
            ClientToken {
                client: "crm".into(),
                token: "other".into(),
            },
        ])
    }

    #[test]
    fn tokens_map_to_clients_and_failures_count() {
        let a = auth();
        assert_eq!(
            a.check(Some(b"Bearer s3cret")),
            Ok(AuthenticatedClient("im".into()))
        );
        assert_eq!(
            a.check(Some(b"bearer other")),
            Ok(AuthenticatedClient("crm".into()))
        );
        assert_eq!(a.failures(), 0);
        assert_eq!(a.check(None), Err(AuthError::Missing));
        assert_eq!(a.check(Some(b"s3cret")), Err(AuthError::Malformed));
        assert_eq!(a.check(Some(b"Basic s3cret")), Err(AuthError::Malformed));
        assert_eq!(a.check(Some(b"Bearer ")), Err(AuthError::Malformed));
        assert_eq!(a.check(Some(b"Bearer s3cre")), Err(AuthError::UnknownToken));
        assert_eq!(
            a.check(Some(b"Bearer s3cretx")),
            Err(AuthError::UnknownToken)
        );
        assert_eq!(a.failures(), 6);
    }

    #[test]
    fn open_mode_accepts_everyone_as_anonymous() {
        let a = Authenticator::open();
        assert_eq!(a.check(None), Ok(AuthenticatedClient(ANONYMOUS.into())));
        assert_eq!(a.failures(), 0);
    }
}
