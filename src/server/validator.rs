//! The validator: discovery, a cached JWK Set, and RFC 9068 checks.

use std::sync::Arc;
use std::time::Duration;

use serde::de::DeserializeOwned;
use tokio::sync::{Mutex, RwLock};

use super::nonce::NonceIssuer;
use super::replay::{InMemoryReplayStore, ReplayKey, ReplayStore, ReplayStoreError};
use crate::core::jose::{AlgorithmPolicy, JoseError, JwkSet, NativeVerifier, PreparedKeySet};
use crate::core::{
    discovery_url, is_secure_url, AccessTokenClaims, AccessTokenError, AccessTokenValidator, Clock,
    DiscoveryError, DpopError, DpopProofValidator, ProofRequest, ProviderMetadata, SystemClock,
    TokenBinding,
};

/// Why the validator could not be built or could not load keys.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ValidatorError {
    /// No audience was configured (RFC 9068 section 4: `aud` must be checked).
    #[error("an audience is required: call `.audience(..)`")]
    MissingAudience,
    /// The issuer is neither `https` nor `http` on a loopback address.
    #[error("the issuer must be an https URL (or http on loopback)")]
    InsecureIssuer,
    /// The provider's metadata is invalid.
    #[error(transparent)]
    Discovery(#[from] DiscoveryError),
    /// A request to the provider failed.
    #[error("request to the identity provider failed: {0}")]
    Http(String),
    /// The key set is invalid or too large.
    #[error("the provider's key set is unusable: {0}")]
    Keys(String),
    /// The keys were last confirmed by the provider longer ago than the configured
    /// maximum age, and the provider cannot be reached to confirm them again.
    #[error("the provider's keys are too old to trust and cannot be refreshed")]
    KeysExpired,
    /// The configured public URL is not an absolute `http(s)` URL.
    #[error("the public URL must be an absolute http(s) URL")]
    InvalidPublicUrl,
    /// The DPoP replay store cannot answer: proofs are refused until it can.
    #[error(transparent)]
    ReplayStore(#[from] ReplayStoreError),
}

/// Largest accepted discovery or JWKS document.
const MAX_DOCUMENT: usize = 512 * 1024;
/// Most redirects followed for one discovery or JWKS request.
const MAX_REDIRECTS: usize = 5;

/// When keys are fetched, and for how long they are trusted.
#[derive(Debug, Clone, Copy)]
struct KeyTiming {
    /// At most one fetch attempt (successful or not) per this many seconds.
    min_interval: u64,
    /// Keys older than this are refreshed in the background.
    refresh_after: u64,
    /// Keys the provider has not confirmed for this long are no longer trusted.
    max_age: u64,
}

/// The nonce signing secret: never printed.
#[derive(Clone)]
struct NonceSecret([u8; 32]);

impl std::fmt::Debug for NonceSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NonceSecret([redacted])")
    }
}

/// Builds a [`Validator`].
#[derive(Debug, Clone)]
pub struct ValidatorBuilder {
    issuer: String,
    /// Rules other than issuer, audience, leeway and algorithms.
    rules: AccessTokenValidator,
    audiences: Vec<String>,
    leeway: u64,
    algorithms: AlgorithmPolicy,
    timeout: Duration,
    jwks: Option<JwkSet>,
    clock: Arc<dyn Clock>,
    timing: KeyTiming,
    dpop: DpopProofValidator,
    replay: Option<Arc<dyn ReplayStore>>,
    nonce_secret: Option<NonceSecret>,
    nonce_lifetime: u64,
    public_url: Option<String>,
    trust_forwarded: bool,
    require_dpop: bool,
}

impl ValidatorBuilder {
    /// The rules for DPoP proofs (algorithms, age window, size). Defaults to
    /// [`DpopProofValidator::default`]: every asymmetric algorithm, proofs at most 60
    /// seconds old and 30 seconds in the future.
    pub fn dpop_proofs(mut self, rules: DpopProofValidator) -> Self {
        self.dpop = rules;
        self
    }

    /// Where DPoP proofs' `jti`s are remembered. Defaults to an
    /// [`InMemoryReplayStore`] of 100,000 entries: right for one instance; give
    /// several instances one shared store (feature `redis`).
    pub fn replay_store(mut self, store: Arc<dyn ReplayStore>) -> Self {
        self.replay = Some(store);
        self
    }

    /// Requires a server nonce in every DPoP proof (RFC 9449 section 8), which bounds
    /// proof lifetime by the server's clock instead of the client's. A request without
    /// a valid nonce gets 401 `use_dpop_nonce` with a fresh one in `DPoP-Nonce`. The
    /// secret signs the nonces: give every instance behind one load balancer the same
    /// 32 random bytes. Off by default.
    pub fn dpop_nonce_secret(mut self, secret: [u8; 32]) -> Self {
        self.nonce_secret = Some(NonceSecret(secret));
        self
    }

    /// How long a nonce stays valid: between one and two times this. Defaults to 5
    /// minutes.
    pub fn dpop_nonce_lifetime(mut self, lifetime: Duration) -> Self {
        self.nonce_lifetime = lifetime.as_secs();
        self
    }

    /// The URL clients use to reach this API (scheme, host, port and any path prefix a
    /// proxy removes), e.g. `https://api.example.com`: DPoP proofs' `htu` is compared
    /// with it followed by the request path. Needed behind a proxy or load balancer.
    /// Without it (and without [`trust_forwarded_headers`](Self::trust_forwarded_headers))
    /// the URL is taken from the request's `Host` header with scheme `http`.
    pub fn public_url(mut self, url: impl Into<String>) -> Self {
        self.public_url = Some(url.into());
        self
    }

    /// Takes the request's scheme and host from `X-Forwarded-Proto` and
    /// `X-Forwarded-Host` (first values) when no public URL is configured. Only for an
    /// API reachable solely through a proxy that sets both. Defaults to `false`.
    pub fn trust_forwarded_headers(mut self, trust: bool) -> Self {
        self.trust_forwarded = trust;
        self
    }

    /// Refuses bearer tokens: only DPoP-bound tokens with a proof are accepted.
    /// Defaults to `false` (both schemes; bound tokens always need their proof).
    pub fn require_dpop(mut self, require: bool) -> Self {
        self.require_dpop = require;
        self
    }

    /// The time source for expiry checks and for the key cache's ages and rate limit.
    /// Defaults to the system clock.
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

    /// The least time between two fetches of the provider's keys, whether the last one
    /// succeeded or failed. Tokens with unknown key IDs (which anyone can send) cause at
    /// most one fetch per interval. Defaults to 30 seconds.
    pub fn min_refresh_interval(mut self, interval: Duration) -> Self {
        self.timing.min_interval = interval.as_secs();
        self
    }

    /// Keys older than this are refreshed in the background while requests keep using
    /// them. Defaults to 15 minutes.
    pub fn refresh_after(mut self, age: Duration) -> Self {
        self.timing.refresh_after = age.as_secs();
        self
    }

    /// Keys the provider has not confirmed (by a successful fetch) for this long stop
    /// being trusted: requests get 503 until the provider answers again. Bounds how long
    /// a key the provider has withdrawn stays usable while the provider is unreachable.
    /// Defaults to 24 hours.
    pub fn max_key_age(mut self, age: Duration) -> Self {
        self.timing.max_age = age.as_secs();
        self
    }

    /// Whether tokens must carry `client_id` (RFC 9068 section 2.2). Defaults to `true`;
    /// turn off only for a provider that omits it.
    pub fn require_client_id(mut self, required: bool) -> Self {
        self.rules = self.rules.require_client_id(required);
        self
    }

    /// Whether tokens must carry `jti` (RFC 9068 section 2.2). Defaults to `true`; turn
    /// off only for a provider that omits it.
    pub fn require_jti(mut self, required: bool) -> Self {
        self.rules = self.rules.require_jti(required);
        self
    }

    /// Also accepts access tokens typed `JWT` or untyped, for providers that do not use
    /// the RFC 9068 `at+jwt` type (Keycloak and Microsoft Entra ID, for example).
    /// Defaults to `false`. The type is what tells an access token from an ID token
    /// signed by the same keys (RFC 8725 section 3.11): with this on, keep the API's
    /// audience distinct from every client ID, so no ID token names it.
    pub fn accept_jwt_typ(mut self, accept: bool) -> Self {
        self.rules = self.rules.accept_jwt_typ(accept);
        self
    }

    /// The largest accepted access token, in bytes. Defaults to 16 KiB.
    pub fn max_token_size(mut self, bytes: usize) -> Self {
        self.rules = self.rules.max_token_size(bytes);
        self
    }

    /// Uses a fixed key set instead of discovery (keys are then never refreshed).
    pub fn static_keys(mut self, keys: JwkSet) -> Self {
        self.jwks = Some(keys);
        self
    }

    /// Builds the validator and loads the keys. If the provider is unreachable the
    /// validator is still returned and loads the keys on a later request (at most once
    /// per [`min_refresh_interval`](Self::min_refresh_interval)); invalid configuration
    /// (no audience, wrong issuer in the metadata) is an error.
    pub async fn build(self) -> Result<Validator, ValidatorError> {
        let validator = self.build_lazy()?;
        if validator.inner.fixed {
            return Ok(validator);
        }
        match validator.refresh().await {
            Ok(()) | Err(ValidatorError::Http(_)) => Ok(validator),
            Err(e) => Err(e),
        }
    }

    /// Builds the validator without contacting the provider.
    pub fn build_lazy(self) -> Result<Validator, ValidatorError> {
        if !is_secure_url(&self.issuer) {
            return Err(ValidatorError::InsecureIssuer);
        }
        let mut audiences = self.audiences.into_iter();
        let first = audiences.next().ok_or(ValidatorError::MissingAudience)?;
        let mut rules = self
            .rules
            .with_audience(first)
            .leeway(self.leeway)
            .algorithms(self.algorithms);
        for aud in audiences {
            rules = rules.also_audience(aud);
        }
        let http = reqwest::Client::builder()
            .timeout(self.timeout)
            .redirect(redirect_policy())
            .build()
            .map_err(|e| ValidatorError::Http(e.to_string()))?;
        if let Some(url) = &self.public_url {
            if crate::core::normalize_htu(url).is_none() {
                return Err(ValidatorError::InvalidPublicUrl);
            }
        }
        let nonces = match self.nonce_secret {
            Some(NonceSecret(secret)) => Some(NonceIssuer::new(secret, self.nonce_lifetime)),
            None => None,
        };
        let fixed = self.jwks.is_some();
        let now = self.clock.now();
        Ok(Validator {
            inner: Arc::new(Inner {
                issuer: self.issuer,
                rules,
                http,
                fixed,
                timing: self.timing,
                keys: RwLock::new(KeyState {
                    jwks_uri: None,
                    keys: Arc::new(PreparedKeySet::new(self.jwks.unwrap_or_default())),
                    fetched_at: fixed.then_some(now),
                    attempted_at: None,
                    last_error: None,
                    refreshing: false,
                }),
                fetch: Mutex::new(()),
                clock: self.clock,
                dpop: self.dpop,
                replay: self
                    .replay
                    .unwrap_or_else(|| Arc::new(InMemoryReplayStore::default())),
                nonces,
                public_url: self.public_url.map(|u| u.trim_end_matches('/').to_owned()),
                trust_forwarded: self.trust_forwarded,
                require_dpop: self.require_dpop,
                mock: false,
            }),
        })
    }
}

/// Whether a redirect from `previous` (oldest first) to `next` may be followed: never
/// from `https` to anything else, and only to URLs fit for a provider endpoint.
fn redirect_allowed(previous: &[reqwest::Url], next: &reqwest::Url) -> bool {
    if next.scheme() == "https" {
        return true;
    }
    let left_https = previous.iter().any(|u| u.scheme() == "https");
    !left_https && is_secure_url(next.as_str())
}

fn redirect_policy() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        if attempt.previous().len() > MAX_REDIRECTS {
            attempt.error("too many redirects")
        } else if redirect_allowed(attempt.previous(), attempt.url()) {
            attempt.follow()
        } else {
            attempt.error("redirect to an insecure URL refused")
        }
    })
}

struct KeyState {
    jwks_uri: Option<String>,
    /// Decoded once per fetch.
    keys: Arc<PreparedKeySet>,
    /// When the current keys were fetched (clock seconds).
    fetched_at: Option<u64>,
    /// The last fetch attempt, successful or not: the rate limit counts these.
    attempted_at: Option<u64>,
    /// Why the last attempt failed, if it did.
    last_error: Option<ValidatorError>,
    /// A background refresh is running.
    refreshing: bool,
}

struct Inner {
    issuer: String,
    rules: AccessTokenValidator,
    http: reqwest::Client,
    fixed: bool,
    timing: KeyTiming,
    keys: RwLock<KeyState>,
    /// Held while a fetch is in flight: one fetch at a time.
    fetch: Mutex<()>,
    clock: Arc<dyn Clock>,
    dpop: DpopProofValidator,
    replay: Arc<dyn ReplayStore>,
    nonces: Option<NonceIssuer>,
    public_url: Option<String>,
    trust_forwarded: bool,
    require_dpop: bool,
    /// Mock mode: only unsigned mock tokens are accepted.
    mock: bool,
}

/// Validates access tokens offline against the provider's published keys. Cheap to
/// clone; share one per provider.
///
/// Keys: fetched through discovery, cached and replaced (not merged) on refresh. Keys
/// older than [`ValidatorBuilder::refresh_after`] keep being used while a background
/// task refreshes them; a token with an unknown key ID triggers a refresh; all fetches,
/// failed ones included, are limited to one per
/// [`ValidatorBuilder::min_refresh_interval`]. Redirects from `https` to anything else
/// are refused.
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

/// Seconds from `then` to `now`. A time ahead of the clock (the clock was set back since)
/// counts as long ago: keys stamped then are not trusted as fresh, and an attempt made
/// then does not hold back the next fetch for as long as the clock was off.
fn elapsed(now: u64, then: u64) -> u64 {
    if then > now {
        u64::MAX
    } else {
        now - then
    }
}

impl Validator {
    /// Starts building a validator for tokens from `issuer`, found by discovery.
    pub fn discover(issuer: impl Into<String>) -> ValidatorBuilder {
        let issuer = issuer.into();
        ValidatorBuilder {
            rules: AccessTokenValidator::new(&issuer, ""),
            issuer,
            audiences: Vec::new(),
            leeway: 60,
            algorithms: AlgorithmPolicy::default(),
            timeout: Duration::from_secs(5),
            jwks: None,
            clock: Arc::new(SystemClock),
            timing: KeyTiming {
                min_interval: 30,
                refresh_after: 15 * 60,
                max_age: 24 * 60 * 60,
            },
            dpop: DpopProofValidator::default(),
            replay: None,
            nonce_secret: None,
            nonce_lifetime: 300,
            public_url: None,
            trust_forwarded: false,
            require_dpop: false,
        }
    }

    /// A validator for mock mode (see `OidcConfig::mock` on the browser side): it
    /// accepts only the unsigned access tokens (`alg` `none`) a mock session issues for
    /// `issuer` and `audience`, checked by every RFC 9068 rule but the signature, and
    /// refuses every signed token. It never contacts a provider.
    ///
    /// Anyone can forge such a token: use it for demos, tests and deployments without
    /// sign-in, never in production. It logs a warning when built.
    ///
    /// ```
    /// # use oidc_leptos::server::Validator;
    /// let validator = Validator::mock("http://localhost:9000", "todo-api")?;
    /// # Ok::<(), oidc_leptos::server::ValidatorError>(())
    /// ```
    pub fn mock(
        issuer: impl Into<String>,
        audience: impl Into<String>,
    ) -> Result<Validator, ValidatorError> {
        let mut validator = Validator::discover(issuer)
            .audience(audience)
            .static_keys(JwkSet::default())
            .build_lazy()?;
        if let Some(inner) = Arc::get_mut(&mut validator.inner) {
            inner.mock = true;
        }
        tracing::warn!(
            issuer = %validator.inner.issuer,
            "MOCK MODE: unsigned access tokens are accepted, anyone can sign in as anyone; never use this in production"
        );
        Ok(validator)
    }

    /// Whether this validator is for [mock mode](Self::mock).
    pub fn is_mock(&self) -> bool {
        self.inner.mock
    }

    /// The trusted issuer.
    pub fn issuer(&self) -> &str {
        &self.inner.issuer
    }

    /// Validates a token presented as a bearer token (RFC 6750): the RFC 9068 rules of
    /// [`AccessTokenValidator`], and a token bound to a key (any `cnf` claim) is
    /// refused, so this is safe to call directly (WebSocket, gRPC) without the
    /// extractor. An unknown key ID triggers one (rate-limited) key refresh, so rotated
    /// keys are picked up without a restart. With
    /// [`require_dpop`](ValidatorBuilder::require_dpop) every bearer token is refused.
    pub async fn validate<C: DeserializeOwned>(
        &self,
        token: &str,
    ) -> Result<AccessTokenClaims<C>, ValidationFailure> {
        let claims = self.validate_unbound::<C>(token).await?;
        match claims.binding().map_err(ValidationFailure::Invalid)? {
            TokenBinding::Bearer if !self.inner.require_dpop => Ok(claims),
            TokenBinding::Bearer => Err(ValidationFailure::InvalidProof(DpopError::ProofCount)),
            TokenBinding::Dpop { .. } => {
                Err(ValidationFailure::Invalid(AccessTokenError::BoundToKey))
            }
        }
    }

    /// Validates a DPoP-bound token with its proof (RFC 9449 section 4.3 and 7.1):
    /// the token's RFC 9068 rules, then the proof against `method` and `url` (the URL
    /// the client addressed; see [`ValidatorBuilder::public_url`]), the token hash
    /// (`ath`), the key binding (`cnf.jkt`), the server nonce if configured, and last
    /// the replay store.
    pub async fn validate_dpop<C: DeserializeOwned>(
        &self,
        token: &str,
        proof: &str,
        method: &str,
        url: &str,
    ) -> Result<AccessTokenClaims<C>, ValidationFailure> {
        let claims = self.validate_unbound::<C>(token).await?;
        let jkt = match claims.binding().map_err(ValidationFailure::Invalid)? {
            TokenBinding::Dpop { jkt } => jkt,
            TokenBinding::Bearer => {
                return Err(ValidationFailure::InvalidProof(DpopError::TokenNotBound))
            }
        };
        let now = self.inner.clock.now();
        let request = ProofRequest {
            method,
            url,
            access_token: token,
            jkt,
        };
        let proof = self
            .inner
            .dpop
            .verify(proof, &request, &NativeVerifier, now)
            .map_err(ValidationFailure::InvalidProof)?;
        // RFC 9449 section 8 (check 10): a nonce this server issued, recently.
        if let Some(nonces) = &self.inner.nonces {
            let valid = proof.nonce.as_deref().is_some_and(|n| nonces.check(n, now));
            if !valid {
                return Err(ValidationFailure::UseDpopNonce {
                    nonce: nonces.issue(now),
                });
            }
        }
        // RFC 9449 section 11.1: each proof once, remembered for the proof window.
        let key = ReplayKey::new(&proof.jkt, &proof.jti);
        let ttl = self.inner.dpop.window().saturating_add(1);
        match self.inner.replay.check_and_record(key, ttl, now).await {
            Ok(true) => Ok(claims),
            Ok(false) => Err(ValidationFailure::InvalidProof(DpopError::Replayed)),
            Err(e) => {
                tracing::error!(error = %e, "DPoP replay store failed: refusing DPoP requests (503) until it answers");
                Err(ValidationFailure::Unavailable(ValidatorError::ReplayStore(
                    e,
                )))
            }
        }
    }

    /// The algorithms accepted for DPoP proofs (for the `algs` challenge parameter).
    pub fn dpop_algorithms(&self) -> &AlgorithmPolicy {
        self.inner.dpop.algorithm_policy()
    }

    /// A fresh server nonce, when nonces are configured.
    pub fn dpop_nonce(&self) -> Option<String> {
        let now = self.inner.clock.now();
        self.inner.nonces.as_ref().map(|n| n.issue(now))
    }

    pub(super) fn public_url(&self) -> Option<&str> {
        self.inner.public_url.as_deref()
    }

    pub(super) fn trusts_forwarded_headers(&self) -> bool {
        self.inner.trust_forwarded
    }

    pub(super) fn requires_dpop(&self) -> bool {
        self.inner.require_dpop
    }

    /// The RFC 9068 checks and the signature, with one key refresh for an unknown `kid`;
    /// the binding is the caller's to check.
    async fn validate_unbound<C: DeserializeOwned>(
        &self,
        token: &str,
    ) -> Result<AccessTokenClaims<C>, ValidationFailure> {
        if self.inner.mock {
            let now = self.inner.clock.now();
            return self
                .inner
                .rules
                .validate_mock(token, now)
                .map_err(ValidationFailure::Invalid);
        }
        let keys = self.usable_keys().await?;
        let now = self.inner.clock.now();
        match self
            .inner
            .rules
            .validate(token, keys.keys(), &keys.verifier(), now)
        {
            Err(
                e @ AccessTokenError::Jose(JoseError::UnknownKid(_) | JoseError::NoMatchingKey(_)),
            ) if !self.inner.fixed => {
                // A failed refetch leaves the key unknown: the token is invalid (401),
                // the service is not unavailable.
                if self.refresh().await.is_err() {
                    return Err(ValidationFailure::Invalid(e));
                }
                let keys = Arc::clone(&self.inner.keys.read().await.keys);
                self.inner
                    .rules
                    .validate(token, keys.keys(), &keys.verifier(), now)
                    .map_err(ValidationFailure::Invalid)
            }
            other => other.map_err(ValidationFailure::Invalid),
        }
    }

    /// The keys to check a token with: fresh ones at once; stale ones at once while a
    /// background refresh runs; too old (or none yet) only after a successful fetch.
    async fn usable_keys(&self) -> Result<Arc<PreparedKeySet>, ValidationFailure> {
        let timing = self.inner.timing;
        let now = self.inner.clock.now();
        let age = |state: &KeyState| state.fetched_at.map(|t| elapsed(now, t));
        {
            let state = self.inner.keys.read().await;
            if self.inner.fixed {
                return Ok(Arc::clone(&state.keys));
            }
            match age(&state) {
                Some(a) if a < timing.refresh_after => return Ok(Arc::clone(&state.keys)),
                Some(a) if a < timing.max_age => {
                    let keys = Arc::clone(&state.keys);
                    let due = !state.refreshing && !self.rate_limited(&state, now);
                    drop(state);
                    if due {
                        self.refresh_in_background().await;
                    }
                    return Ok(keys);
                }
                _ => {}
            }
        }
        // No keys yet, or keys too old to trust: a fetch must succeed first.
        let result = self.refresh().await;
        let state = self.inner.keys.read().await;
        match age(&state) {
            Some(a) if a < timing.max_age => Ok(Arc::clone(&state.keys)),
            _ => Err(ValidationFailure::Unavailable(match result {
                Err(e) => e,
                Ok(()) if state.fetched_at.is_some() => ValidatorError::KeysExpired,
                Ok(()) => state
                    .last_error
                    .clone()
                    .unwrap_or(ValidatorError::KeysExpired),
            })),
        }
    }

    fn rate_limited(&self, state: &KeyState, now: u64) -> bool {
        state
            .attempted_at
            .is_some_and(|t| elapsed(now, t) < self.inner.timing.min_interval)
    }

    async fn refresh_in_background(&self) {
        {
            let mut state = self.inner.keys.write().await;
            if state.refreshing {
                return;
            }
            state.refreshing = true;
        }
        let this = self.clone();
        tokio::spawn(async move {
            if let Err(e) = this.refresh().await {
                tracing::warn!(error = %e, "background refresh of the provider's keys failed; the cached keys stay in use");
            }
            this.inner.keys.write().await.refreshing = false;
        });
    }

    /// Fetches the key set (and the metadata the first time), unless an attempt was made
    /// within the minimum interval: then it reports that attempt's outcome. One fetch at
    /// a time; callers that waited for a fetch in flight share its outcome.
    pub(super) async fn refresh(&self) -> Result<(), ValidatorError> {
        if self.inner.fixed {
            return Ok(());
        }
        let _one_at_a_time = self.inner.fetch.lock().await;
        let now = self.inner.clock.now();
        let jwks_uri = {
            let state = self.inner.keys.read().await;
            if self.rate_limited(&state, now) {
                return match &state.last_error {
                    Some(e) => Err(e.clone()),
                    None => Ok(()),
                };
            }
            state.jwks_uri.clone()
        };
        self.inner.keys.write().await.attempted_at = Some(now);
        // Keys are decoded once here, not on every request.
        let result = self
            .fetch(jwks_uri)
            .await
            .map(|(uri, keys)| (uri, PreparedKeySet::new(keys)));
        let mut state = self.inner.keys.write().await;
        match result {
            Ok((jwks_uri, keys)) => {
                // Replaced, not merged: a key removed by the provider stops being accepted.
                state.keys = Arc::new(keys);
                state.jwks_uri = Some(jwks_uri);
                state.fetched_at = Some(now);
                state.last_error = None;
                Ok(())
            }
            Err(e) => {
                state.last_error = Some(e.clone());
                Err(e)
            }
        }
    }

    async fn fetch(&self, jwks_uri: Option<String>) -> Result<(String, JwkSet), ValidatorError> {
        let jwks_uri = match jwks_uri {
            Some(u) => u,
            None => {
                let body = self.get(&discovery_url(&self.inner.issuer)).await?;
                ProviderMetadata::from_json(&body, &self.inner.issuer)?.jwks_uri
            }
        };
        let body = self.get(&jwks_uri).await?;
        let keys = JwkSet::from_json(&body).map_err(|e| ValidatorError::Keys(e.to_string()))?;
        Ok((jwks_uri, keys))
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
    /// The token is invalid (`invalid_token`).
    #[error(transparent)]
    Invalid(AccessTokenError),
    /// The DPoP proof is missing or invalid (`invalid_dpop_proof`).
    #[error(transparent)]
    InvalidProof(DpopError),
    /// The proof lacks a valid server nonce (`use_dpop_nonce`): retry with this one.
    #[error("a fresh DPoP nonce is required")]
    UseDpopNonce {
        /// The nonce to send in `DPoP-Nonce`.
        nonce: String,
    },
    /// The provider's keys or the replay store are unavailable (503).
    #[error(transparent)]
    Unavailable(ValidatorError),
}

impl From<ValidatorError> for ValidationFailure {
    fn from(e: ValidatorError) -> Self {
        ValidationFailure::Unavailable(e)
    }
}

#[cfg(test)]
mod redirect_tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn urls(list: &[&str]) -> Vec<reqwest::Url> {
        list.iter().map(|u| u.parse().unwrap()).collect()
    }

    #[test]
    fn redirects_never_leave_https() {
        let next = |u: &str| u.parse::<reqwest::Url>().unwrap();
        let from_https = urls(&["https://idp.example/jwks"]);
        assert!(redirect_allowed(
            &from_https,
            &next("https://cdn.example/jwks")
        ));
        assert!(!redirect_allowed(
            &from_https,
            &next("http://cdn.example/jwks")
        ));
        // Not even to loopback once on https.
        assert!(!redirect_allowed(
            &from_https,
            &next("http://127.0.0.1/jwks")
        ));
        // A loopback development provider may redirect on loopback, not elsewhere.
        let from_loopback = urls(&["http://127.0.0.1:9000/jwks"]);
        assert!(redirect_allowed(
            &from_loopback,
            &next("http://localhost:9000/k")
        ));
        assert!(!redirect_allowed(
            &from_loopback,
            &next("http://idp.example/k")
        ));
        let through_https = urls(&["http://127.0.0.1/a", "https://idp.example/b"]);
        assert!(!redirect_allowed(
            &through_https,
            &next("http://127.0.0.1/c")
        ));
    }
}
