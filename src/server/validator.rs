//! The validator: discovery, a cached JWK Set, and RFC 9068 checks.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;
use tokio::sync::{Mutex, RwLock};

use crate::core::jose::{AlgorithmPolicy, JoseError, JwkSet, RustCryptoVerifier};
use crate::core::{
    discovery_url, AccessTokenClaims, AccessTokenError, AccessTokenValidator, Clock,
    DiscoveryError, ProviderMetadata, SystemClock,
};

/// Why the validator could not be built or could not load keys.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ValidatorError {
    /// No audience was configured (RFC 9068 section 4: `aud` must be checked).
    #[error("an audience is required: call `.audience(..)`")]
    MissingAudience,
    /// The provider's metadata is invalid.
    #[error(transparent)]
    Discovery(#[from] DiscoveryError),
    /// A request to the provider failed.
    #[error("request to the identity provider failed: {0}")]
    Http(String),
    /// The key set is invalid or too large.
    #[error("the provider's key set is unusable: {0}")]
    Keys(String),
}

/// Largest accepted discovery or JWKS document.
const MAX_DOCUMENT: usize = 512 * 1024;
/// An unknown `kid` triggers at most one key refresh per this interval.
const MIN_REFRESH_INTERVAL: Duration = Duration::from_secs(30);
/// Keys are refreshed in the background of a request after this age.
const MAX_KEY_AGE: Duration = Duration::from_secs(15 * 60);

/// Builds a [`Validator`].
#[derive(Debug, Clone)]
pub struct ValidatorBuilder {
    issuer: String,
    audiences: Vec<String>,
    leeway: u64,
    algorithms: AlgorithmPolicy,
    timeout: Duration,
    jwks: Option<JwkSet>,
    clock: Arc<dyn Clock>,
}

impl ValidatorBuilder {
    /// The time source for expiry checks. Defaults to the system clock.
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The audience this API accepts (required). Call again to accept several.
    pub fn audience(mut self, aud: impl Into<String>) -> Self {
        self.audiences.push(aud.into());
        self
    }

    /// Clock leeway in seconds. Defaults to 60.
    pub fn leeway(mut self, secs: u64) -> Self {
        self.leeway = secs;
        self
    }

    /// Accepted signature algorithms. Defaults to every asymmetric algorithm.
    pub fn algorithms(mut self, policy: AlgorithmPolicy) -> Self {
        self.algorithms = policy;
        self
    }

    /// Timeout of each request to the provider. Defaults to 5 seconds.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Uses a fixed key set instead of discovery (keys are then never refreshed).
    pub fn static_keys(mut self, keys: JwkSet) -> Self {
        self.jwks = Some(keys);
        self
    }

    /// Builds the validator and loads the keys. If the provider is unreachable the
    /// validator is still returned and loads the keys on the first request; invalid
    /// configuration (no audience, wrong issuer in the metadata) is an error.
    pub async fn build(self) -> Result<Validator, ValidatorError> {
        let validator = self.build_lazy()?;
        match validator.load_keys(false).await {
            Ok(_) | Err(ValidatorError::Http(_)) => Ok(validator),
            Err(e) => Err(e),
        }
    }

    /// Builds the validator without contacting the provider.
    pub fn build_lazy(self) -> Result<Validator, ValidatorError> {
        let mut audiences = self.audiences.into_iter();
        let first = audiences.next().ok_or(ValidatorError::MissingAudience)?;
        let mut rules = AccessTokenValidator::new(&self.issuer, first)
            .leeway(self.leeway)
            .algorithms(self.algorithms);
        for aud in audiences {
            rules = rules.also_audience(aud);
        }
        let http = reqwest::Client::builder()
            .timeout(self.timeout)
            .build()
            .map_err(|e| ValidatorError::Http(e.to_string()))?;
        let fixed = self.jwks.is_some();
        Ok(Validator {
            inner: Arc::new(Inner {
                issuer: self.issuer,
                rules,
                http,
                fixed,
                keys: RwLock::new(KeyState {
                    jwks_uri: None,
                    keys: Arc::new(self.jwks.unwrap_or_default()),
                    fetched_at: None,
                    forced_at: None,
                }),
                refresh: Mutex::new(()),
                clock: self.clock,
            }),
        })
    }
}

struct KeyState {
    jwks_uri: Option<String>,
    keys: Arc<JwkSet>,
    fetched_at: Option<Instant>,
    /// The last refresh caused by an unknown key (the rate limit counts these).
    forced_at: Option<Instant>,
}

struct Inner {
    issuer: String,
    rules: AccessTokenValidator,
    http: reqwest::Client,
    fixed: bool,
    keys: RwLock<KeyState>,
    refresh: Mutex<()>,
    clock: Arc<dyn Clock>,
}

/// Validates access tokens offline against the provider's published keys. Cheap to
/// clone; share one per provider.
#[derive(Clone)]
pub struct Validator {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Validator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Validator")
            .field("issuer", &self.inner.issuer)
            .finish_non_exhaustive()
    }
}

impl Validator {
    /// Starts building a validator for tokens from `issuer`, found by discovery.
    pub fn discover(issuer: impl Into<String>) -> ValidatorBuilder {
        ValidatorBuilder {
            issuer: issuer.into(),
            audiences: Vec::new(),
            leeway: 60,
            algorithms: AlgorithmPolicy::default(),
            timeout: Duration::from_secs(5),
            jwks: None,
            clock: Arc::new(SystemClock),
        }
    }

    /// The trusted issuer.
    pub fn issuer(&self) -> &str {
        &self.inner.issuer
    }

    /// Validates a token. An unknown key ID triggers one (rate-limited) key refresh,
    /// so rotated keys are picked up without a restart.
    pub async fn validate<C: DeserializeOwned>(
        &self,
        token: &str,
    ) -> Result<AccessTokenClaims<C>, ValidationFailure> {
        let keys = self.current_keys().await?;
        let now = self.inner.clock.now();
        match self
            .inner
            .rules
            .validate(token, &keys, &RustCryptoVerifier, now)
        {
            Err(AccessTokenError::Jose(JoseError::UnknownKid(_) | JoseError::NoMatchingKey(_)))
                if !self.inner.fixed =>
            {
                let keys = self.load_keys(true).await?;
                self.inner
                    .rules
                    .validate(token, &keys, &RustCryptoVerifier, now)
                    .map_err(ValidationFailure::Invalid)
            }
            other => other.map_err(ValidationFailure::Invalid),
        }
    }

    async fn current_keys(&self) -> Result<Arc<JwkSet>, ValidationFailure> {
        {
            let state = self.inner.keys.read().await;
            let fresh = state.fetched_at.is_some_and(|t| t.elapsed() < MAX_KEY_AGE);
            if self.inner.fixed || fresh {
                return Ok(Arc::clone(&state.keys));
            }
        }
        match self.load_keys(false).await {
            Ok(keys) => Ok(keys),
            // Stale keys beat no keys while the provider is unreachable.
            Err(e) => {
                let state = self.inner.keys.read().await;
                if state.keys.keys.is_empty() {
                    Err(ValidationFailure::Unavailable(e))
                } else {
                    Ok(Arc::clone(&state.keys))
                }
            }
        }
    }

    /// Fetches the key set (and the metadata the first time). One fetch at a time;
    /// `forced` refreshes are limited to one per [`MIN_REFRESH_INTERVAL`].
    async fn load_keys(&self, forced: bool) -> Result<Arc<JwkSet>, ValidatorError> {
        if self.inner.fixed {
            return Ok(Arc::clone(&self.inner.keys.read().await.keys));
        }
        let _one_at_a_time = self.inner.refresh.lock().await;
        let (jwks_uri, fetched_at, forced_at) = {
            let state = self.inner.keys.read().await;
            (state.jwks_uri.clone(), state.fetched_at, state.forced_at)
        };
        // Rate limit: another request may have refreshed while this one waited, and an
        // unknown `kid` (which anyone can send) refreshes at most once per interval.
        let recent = |t: Option<Instant>, limit| t.is_some_and(|t: Instant| t.elapsed() < limit);
        let skip = if forced {
            recent(forced_at, MIN_REFRESH_INTERVAL)
        } else {
            recent(fetched_at, MAX_KEY_AGE)
        };
        if skip {
            return Ok(Arc::clone(&self.inner.keys.read().await.keys));
        }
        let jwks_uri = match jwks_uri {
            Some(u) => u,
            None => {
                let body = self.get(&discovery_url(&self.inner.issuer)).await?;
                ProviderMetadata::from_json(&body, &self.inner.issuer)?.jwks_uri
            }
        };
        let body = self.get(&jwks_uri).await?;
        let keys =
            Arc::new(JwkSet::from_json(&body).map_err(|e| ValidatorError::Keys(e.to_string()))?);
        let mut state = self.inner.keys.write().await;
        // Replaced, not merged: a key removed by the provider stops being accepted.
        state.keys = Arc::clone(&keys);
        state.jwks_uri = Some(jwks_uri);
        state.fetched_at = Some(Instant::now());
        if forced {
            state.forced_at = state.fetched_at;
        }
        Ok(keys)
    }

    async fn get(&self, url: &str) -> Result<Vec<u8>, ValidatorError> {
        let http = |e: reqwest::Error| ValidatorError::Http(e.to_string());
        let mut response = self
            .inner
            .http
            .get(url)
            .header("Accept", "application/json")
            .send()
            .await
            .map_err(http)?;
        if !response.status().is_success() {
            return Err(ValidatorError::Http(format!(
                "{url} answered HTTP {}",
                response.status().as_u16()
            )));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(http)? {
            if body.len() + chunk.len() > MAX_DOCUMENT {
                return Err(ValidatorError::Keys(format!(
                    "{url} is larger than {MAX_DOCUMENT} bytes"
                )));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }
}

/// Why a token was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ValidationFailure {
    /// The token is invalid.
    #[error(transparent)]
    Invalid(AccessTokenError),
    /// The provider's keys could not be loaded.
    #[error(transparent)]
    Unavailable(ValidatorError),
}

impl From<ValidatorError> for ValidationFailure {
    fn from(e: ValidatorError) -> Self {
        ValidationFailure::Unavailable(e)
    }
}
