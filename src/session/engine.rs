//! The session engine: login, callback, token use and logout, driven through a
//! [`Platform`] so the same logic runs in the browser and in native tests.

use std::cell::RefCell;
use std::future::Future;
use std::rc::Rc;

use futures_util::future::{FutureExt, LocalBoxFuture, Shared};

use super::config::{LoginOptions, LogoutOptions, OidcConfig};
use super::state::{AuthError, AuthState, RawClaims, User};
use crate::core::jose::{AsyncSignatureVerifier, JoseError, JwkSet, UnverifiedJws};
use crate::core::{
    authorization_code_request, check_refresh_continuity, discovery_request, form, refresh_request,
    sanitize_return_path, AccessToken, AuthorizationRequest, CallbackError, CallbackParams,
    HttpRequest, HttpResponse, IdToken, IdTokenError, IdTokenValidator, Nonce, OAuthError,
    PendingAuthorization, ProviderMetadata, RefreshToken, TokenError, TokenResponse,
    CALLBACK_PARAMS,
};

/// Storage key of the pending authorization (per tab: session storage).
pub(crate) const PENDING_KEY: &str = "oidc-leptos.pending";

/// Renew the access token this many seconds before it expires (at most half its
/// lifetime, so short-lived tokens are not renewed on every use).
const RENEW_MARGIN: u64 = 30;

/// The current page address, split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PageUrl {
    /// `scheme://host[:port]`
    pub origin: String,
    /// Path, starting with `/`.
    pub path: String,
    /// Query including `?`, or empty.
    pub query: String,
    /// Fragment including `#`, or empty.
    pub fragment: String,
}

/// What the session needs from where it runs.
pub(crate) trait Platform: AsyncSignatureVerifier {
    /// Sends a request.
    fn fetch(&self, request: HttpRequest) -> impl Future<Output = Result<HttpResponse, String>>;
    /// Seconds since the epoch.
    fn now(&self) -> u64;
    /// Reads per-tab storage.
    fn storage_get(&self, key: &str) -> Result<Option<String>, String>;
    /// Writes per-tab storage.
    fn storage_set(&self, key: &str, value: &str) -> Result<(), String>;
    /// Removes from per-tab storage.
    fn storage_remove(&self, key: &str);
    /// The current address.
    fn page_url(&self) -> PageUrl;
    /// Replaces the address without navigating (history.replaceState).
    fn replace_url(&self, path_query_fragment: &str);
    /// Navigates the whole page away.
    fn navigate(&self, url: &str);
}

struct Tokens {
    access_token: AccessToken,
    expires_at: Option<u64>,
    renew_at: Option<u64>,
    refresh_token: Option<RefreshToken>,
    id_token: Option<IdToken>,
}

type Listener = Box<dyn Fn(&AuthState<RawClaims>)>;
type Renewal = Shared<LocalBoxFuture<'static, Result<AccessToken, AuthError>>>;

/// The client session. Tokens live in this value's memory only.
pub(crate) struct Session<P: Platform> {
    platform: P,
    config: OidcConfig,
    metadata: RefCell<Option<ProviderMetadata>>,
    keys: RefCell<Option<JwkSet>>,
    tokens: RefCell<Option<Tokens>>,
    state: RefCell<AuthState<RawClaims>>,
    listeners: RefCell<Vec<Listener>>,
    renewing: RefCell<Option<Renewal>>,
}

fn network(e: String) -> AuthError {
    AuthError::Network(e)
}

impl<P: Platform + 'static> Session<P> {
    /// A logged-out session that has not contacted the provider yet.
    pub(crate) fn new(platform: P, config: OidcConfig) -> Rc<Self> {
        Rc::new(Self {
            platform,
            config,
            metadata: RefCell::new(None),
            keys: RefCell::new(None),
            tokens: RefCell::new(None),
            state: RefCell::new(AuthState::Pending),
            listeners: RefCell::new(Vec::new()),
            renewing: RefCell::new(None),
        })
    }

    /// Calls `f` on every state change.
    pub(crate) fn subscribe(&self, f: impl Fn(&AuthState<RawClaims>) + 'static) {
        self.listeners.borrow_mut().push(Box::new(f));
    }

    /// The current state.
    #[cfg(all(test, feature = "rust-crypto"))]
    pub(crate) fn state(&self) -> AuthState<RawClaims> {
        self.state.borrow().clone()
    }

    fn set_state(&self, state: AuthState<RawClaims>) {
        *self.state.borrow_mut() = state.clone();
        for l in self.listeners.borrow().iter() {
            l(&state);
        }
    }

    fn redirect_uri(&self) -> String {
        self.config
            .redirect_uri
            .clone()
            .unwrap_or_else(|| format!("{}/", self.platform.page_url().origin))
    }

    /// Takes the authorization response out of the address bar, if there is one.
    /// Synchronous, so it runs before the app's router reads the URL. The parameters
    /// `code`, `state`, `iss`, `session_state` (and the error ones) are removed, and
    /// when the `state` is the one this tab sent, the return path of the sign-in takes
    /// the callback's place at once, so the router starts on the right page.
    pub(crate) fn take_callback(&self) -> Option<Result<CallbackParams, CallbackError>> {
        let url = self.platform.page_url();
        let parsed = CallbackParams::parse(&url.query);
        if matches!(parsed, Ok(None)) {
            return None;
        }
        let return_to = match &parsed {
            Ok(Some(params)) => self.pending().and_then(|p| {
                let ours = params.state.as_deref().is_some_and(|s| p.state.matches(s));
                if ours {
                    p.return_to
                } else {
                    None
                }
            }),
            _ => None,
        };
        let target = match return_to {
            Some(path) => sanitize_return_path(&path),
            None => {
                let kept: Vec<(String, String)> = form::parse(&url.query)
                    .into_iter()
                    .filter(|(k, _)| !CALLBACK_PARAMS.contains(&k.as_str()))
                    .collect();
                let query = form::serialize(kept.iter().map(|(k, v)| (k.as_str(), v.as_str())));
                let sep = if query.is_empty() { "" } else { "?" };
                format!("{}{sep}{query}{}", url.path, url.fragment)
            }
        };
        self.platform.replace_url(&target);
        parsed.transpose()
    }

    /// The pending authorization of this tab, if any (not consumed).
    fn pending(&self) -> Option<PendingAuthorization> {
        let stored = self.platform.storage_get(PENDING_KEY).ok().flatten()?;
        serde_json::from_str(&stored).ok()
    }

    async fn metadata(&self) -> Result<ProviderMetadata, AuthError> {
        if let Some(m) = self.metadata.borrow().as_ref() {
            return Ok(m.clone());
        }
        let response = self
            .platform
            .fetch(discovery_request(&self.config.issuer))
            .await
            .map_err(network)?;
        let metadata = ProviderMetadata::from_response(&response, &self.config.issuer)?;
        *self.metadata.borrow_mut() = Some(metadata.clone());
        Ok(metadata)
    }

    async fn keys(&self, metadata: &ProviderMetadata) -> Result<JwkSet, AuthError> {
        if let Some(k) = self.keys.borrow().as_ref() {
            return Ok(k.clone());
        }
        let response = self
            .platform
            .fetch(HttpRequest::get_json(metadata.jwks_uri.clone()))
            .await
            .map_err(network)?;
        if !(200..300).contains(&response.status) {
            return Err(AuthError::Network(format!(
                "the key set endpoint answered HTTP {}",
                response.status
            )));
        }
        let keys = JwkSet::from_json(&response.body).map_err(AuthError::Keys)?;
        *self.keys.borrow_mut() = Some(keys.clone());
        Ok(keys)
    }

    /// Starts the session: completes a sign-in when `callback` is given, else logs out.
    pub(crate) async fn start(&self, callback: Option<Result<CallbackParams, CallbackError>>) {
        let result = match callback {
            Some(callback) => self.complete_sign_in(callback).await,
            // No tokens survive a reload (they live in memory only); the provider is
            // discovered now so that a misconfiguration shows at once.
            None => self
                .metadata()
                .await
                .map(|_| self.set_state(AuthState::LoggedOut)),
        };
        if let Err(e) = result {
            self.set_state(AuthState::Failed(e));
        }
    }

    async fn complete_sign_in(
        &self,
        callback: Result<CallbackParams, CallbackError>,
    ) -> Result<(), AuthError> {
        // The pending request is single-use: removed before anything else happens.
        let pending = self.pending();
        self.platform.storage_remove(PENDING_KEY);
        let params = callback?;
        let pending = pending.ok_or(CallbackError::NoPendingRequest)?;
        let metadata = self.metadata().await?;
        let code = pending.validate_callback(&params, &metadata, self.platform.now())?;
        let request = authorization_code_request(
            &metadata,
            &self.config.client_id,
            &code,
            &pending.code_verifier,
            &pending.redirect_uri,
        );
        let response = self.platform.fetch(request).await.map_err(network)?;
        let tokens = TokenResponse::from_response(&response)?;
        let id_token = tokens
            .id_token
            .clone()
            .ok_or_else(|| TokenError::Malformed("no id_token in the response".into()))?;
        let user = self
            .validate_id_token(&metadata, &id_token, Some(&pending.nonce))
            .await?;
        self.store_tokens(tokens);
        self.set_state(AuthState::LoggedIn(user));
        Ok(())
    }

    /// Validates an ID token (OIDC Core 3.1.3.7). Keys are fetched once and fetched
    /// again when the token names a key the cached set lacks (provider key rotation).
    async fn validate_id_token(
        &self,
        metadata: &ProviderMetadata,
        id_token: &IdToken,
        nonce: Option<&Nonce>,
    ) -> Result<User<RawClaims>, AuthError> {
        let validator = IdTokenValidator::new(&self.config.issuer, &self.config.client_id)
            .leeway(self.config.leeway);
        let mut refetched = false;
        let verified = loop {
            let keys = self.keys(metadata).await?;
            let result = UnverifiedJws::parse(id_token.secret())
                .map_err(IdTokenError::from)?
                .verify_async(&keys, validator.algorithm_policy(), &self.platform)
                .await;
            match result {
                Err(JoseError::UnknownKid(_)) if !refetched => {
                    refetched = true;
                    self.keys.borrow_mut().take();
                }
                other => break other.map_err(IdTokenError::from)?,
            }
        };
        let claims = validator.check_claims::<RawClaims>(&verified, nonce, self.platform.now())?;
        // The validated JSON is kept so hooks can read the app's own claims type from it.
        let payload = String::from_utf8_lossy(verified.payload());
        Ok(User::new(claims, payload.into()))
    }

    fn store_tokens(&self, response: TokenResponse) {
        let now = self.platform.now();
        let previous = self.tokens.borrow_mut().take();
        let (previous_refresh, previous_id) = match previous {
            Some(t) => (t.refresh_token, t.id_token),
            None => (None, None),
        };
        *self.tokens.borrow_mut() = Some(Tokens {
            access_token: response.access_token,
            expires_at: response.expires_in.map(|e| now.saturating_add(e)),
            renew_at: response
                .expires_in
                .map(|e| now.saturating_add(e - RENEW_MARGIN.min(e / 2))),
            // RFC 6749 section 6: without a new refresh token, the old one stays valid.
            refresh_token: response.refresh_token.or(previous_refresh),
            id_token: response.id_token.or(previous_id),
        });
    }

    /// Sends the browser to the provider to sign in.
    pub(crate) async fn login(&self, options: LoginOptions) -> Result<(), AuthError> {
        let metadata = self.metadata().await?;
        let page = self.platform.page_url();
        let return_to = options
            .return_to
            .unwrap_or_else(|| format!("{}{}{}", page.path, page.query, page.fragment));
        let mut request = AuthorizationRequest::new(&self.config.client_id, self.redirect_uri())
            .scopes(self.config.scopes.iter().cloned())
            .return_to(sanitize_return_path(&return_to));
        for (k, v) in self.config.extra_params.iter().chain(options.extra.iter()) {
            request = request.extra(k.clone(), v.clone());
        }
        let (url, pending) = request.build(&metadata, self.platform.now())?;
        let json =
            serde_json::to_string(&pending).map_err(|e| AuthError::Storage(e.to_string()))?;
        self.platform
            .storage_set(PENDING_KEY, &json)
            .map_err(AuthError::Storage)?;
        self.platform.navigate(&url);
        Ok(())
    }

    /// Ends the session: forgets the tokens and, unless local-only, sends the browser to
    /// the provider's end-session endpoint (RP-initiated logout 1.0 section 2).
    pub(crate) async fn logout(&self, options: LogoutOptions) -> Result<(), AuthError> {
        let tokens = self.tokens.borrow_mut().take();
        self.set_state(AuthState::LoggedOut);
        if options.local_only {
            return Ok(());
        }
        let metadata = self.metadata().await?;
        let Some(endpoint) = metadata.end_session_endpoint.as_deref() else {
            return Ok(());
        };
        let post_logout = self
            .config
            .post_logout_redirect_uri
            .clone()
            .unwrap_or_else(|| self.redirect_uri());
        let hint = tokens.as_ref().and_then(|t| t.id_token.clone());
        let mut pairs = vec![
            ("client_id", self.config.client_id.as_str()),
            ("post_logout_redirect_uri", post_logout.as_str()),
        ];
        if let Some(hint) = hint.as_ref() {
            pairs.push(("id_token_hint", hint.secret()));
        }
        self.platform.navigate(&form::append_query(endpoint, pairs));
        Ok(())
    }

    /// A fresh access token: the current one, or a renewed one when it is about to
    /// expire. Concurrent callers share one renewal.
    pub(crate) fn access_token(
        self: &Rc<Self>,
    ) -> impl Future<Output = Result<AccessToken, AuthError>> + 'static {
        let this = Rc::clone(self);
        async move {
            let (token, expires_at, renew_at, can_refresh) = match this.tokens.borrow().as_ref() {
                None => return Err(AuthError::NotLoggedIn),
                Some(t) => (
                    t.access_token.clone(),
                    t.expires_at,
                    t.renew_at,
                    t.refresh_token.is_some(),
                ),
            };
            let now = this.platform.now();
            let fresh = renew_at.is_none_or(|r| now < r);
            if fresh {
                return Ok(token);
            }
            if !can_refresh {
                // Without a refresh token an expired access token ends the session;
                // one that is merely close to expiry is still usable.
                if expires_at.is_some_and(|e| now >= e) {
                    this.tokens.borrow_mut().take();
                    this.set_state(AuthState::LoggedOut);
                    return Err(AuthError::NotLoggedIn);
                }
                return Ok(token);
            }
            let renewal = {
                let mut slot = this.renewing.borrow_mut();
                match slot.as_ref() {
                    Some(r) => r.clone(),
                    None => {
                        let inner = Rc::clone(&this);
                        let r = async move { inner.refresh().await }.boxed_local().shared();
                        *slot = Some(r.clone());
                        r
                    }
                }
            };
            let result = renewal.await;
            this.renewing.borrow_mut().take();
            result
        }
    }

    async fn refreshed_user(
        &self,
        metadata: &ProviderMetadata,
        id_token: &IdToken,
    ) -> Result<User<RawClaims>, AuthError> {
        let user = self.validate_id_token(metadata, id_token, None).await?;
        let previous = self.state.borrow().user().cloned();
        if let Some(previous) = previous {
            if let Err(e) = check_refresh_continuity(previous.claims(), user.claims()) {
                // Another identity behind the same session: end it.
                self.tokens.borrow_mut().take();
                self.set_state(AuthState::LoggedOut);
                return Err(e.into());
            }
        }
        Ok(user)
    }

    async fn refresh(&self) -> Result<AccessToken, AuthError> {
        let Some(refresh_token) = self
            .tokens
            .borrow()
            .as_ref()
            .and_then(|t| t.refresh_token.clone())
        else {
            return Err(AuthError::NotLoggedIn);
        };
        let metadata = self.metadata().await?;
        let request = refresh_request(&metadata, &self.config.client_id, &refresh_token);
        let response = self.platform.fetch(request).await.map_err(network)?;
        match TokenResponse::from_response(&response) {
            Ok(tokens) => {
                // OIDC Core 12.2: a new ID token is validated like the first one and
                // must name the same issuer, subject and audience.
                let user = match &tokens.id_token {
                    Some(id_token) => Some(self.refreshed_user(&metadata, id_token).await?),
                    None => None,
                };
                let access = tokens.access_token.clone();
                self.store_tokens(tokens);
                // The state changes (and the app re-renders) only when the profile did.
                let changed = user.filter(|u| {
                    self.state
                        .borrow()
                        .user()
                        .is_none_or(|previous| previous.standard() != u.standard())
                });
                if let Some(user) = changed {
                    self.set_state(AuthState::LoggedIn(user));
                }
                Ok(access)
            }
            // RFC 6749 section 5.2: the grant is gone; the session is over.
            Err(TokenError::Provider(OAuthError { ref error, .. })) if error == "invalid_grant" => {
                self.tokens.borrow_mut().take();
                self.set_state(AuthState::LoggedOut);
                Err(AuthError::NotLoggedIn)
            }
            // Anything else may be transient: keep the session.
            Err(e) => Err(e.into()),
        }
    }
}
