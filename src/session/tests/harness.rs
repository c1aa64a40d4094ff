//! A browser and a provider for the machine, in virtual time: the browser's storage,
//! its tabs' commands carried out at once (or held, to interleave), and a provider
//! with sessions, PKCE, rotating refresh tokens and reuse detection.

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::rc::Rc;

use serde_json::json;
use sha2::{Digest, Sha256};

use crate::core::jose::{
    AlgorithmPolicy, JoseError, JwkSet, RustCryptoVerifier, UnverifiedJws, VerifiedJws,
};
use crate::core::{b64, form, HttpRequest, HttpResponse};
use crate::session::client::{Client, Slot};
use crate::session::machine::{
    Command, Event, Machine, Now, PageUrl, ReqId, StartInfo, TabMessage, WaiterId,
};
use crate::session::{AuthError, AuthState, OidcConfig, RawClaims};
use crate::test_support::EcKey;
use crate::AccessToken;

pub const ISS: &str = "https://login.example.com";
pub const APP: &str = "https://app.example.com";
pub const WALL0: u64 = 1_700_000_000_000;
pub const MAX_WAIT: u64 = 120_000;

#[derive(Default)]
struct Family {
    user: String,
    generation: u32,
    revoked: bool,
    /// The authentication's nonce and `auth_time`, in its refreshed ID tokens too
    /// (as real providers do; OIDC Core 12.2).
    nonce: Option<String>,
    auth_time: Option<u64>,
    /// The first ID token of the family and its `iat`.
    first_id: Option<(String, u64)>,
    /// When (mono) the family was last renewed.
    used_at: u64,
}

/// What a refresh answer's ID token is, when not a new one.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum OldIdToken {
    /// The family's first ID token, sent back as it is.
    Resent,
    /// A new token with the first one's `iat` (and so its `exp`).
    Backdated,
}

struct Grant {
    user: String,
    nonce: Option<String>,
    /// `max_age` was sent: the ID token says when the user authenticated.
    auth_time: bool,
    redirect_uri: String,
    challenge: String,
}

pub struct IdpState {
    key: EcKey,
    pub session: Option<String>,
    codes: HashMap<String, Grant>,
    families: HashMap<u32, Family>,
    next: u32,
    paths: Vec<String>,
    lifetime: u64,
    expires_in: Option<Option<u64>>,
    refresh_expires_in: Option<u64>,
    skew: i64,
    down: bool,
    jwks_down: bool,
    subject_on_refresh: Option<String>,
    roles: Option<Vec<String>>,
    issue_refresh: bool,
    frame_hangs: bool,
    /// Token answers still to lose after the provider carried the request out.
    lose_answers: u32,
    /// The next token request's answer, given without carrying it out.
    token_failure: Option<(u16, String)>,
    /// The silent frame stays on a page of the provider's (`prompt=none` ignored).
    frame_stops: bool,
    omit_auth_time: bool,
    /// The `auth_time` of refreshed ID tokens, instead of the authentication's:
    /// `Some(None)` leaves it out.
    auth_time_on_refresh: Option<Option<u64>>,
    /// Refreshed ID tokens carry no `nonce`.
    omit_nonce_on_refresh: bool,
    old_id_token: Option<OldIdToken>,
    /// The authorization endpoint answers this error, whoever asks.
    authorize_error: Option<&'static str>,
    /// A refresh token unused for `refresh_expires_in` is refused (as Keycloak's
    /// "refresh token expired").
    refresh_idles_out: bool,
    /// ID tokens are signed with the RSA test key under this `kid`, and the key
    /// set holds only that key.
    rsa: Option<&'static str>,
    /// A second audience in the ID tokens (with `azp`).
    extra_audience: Option<&'static str>,
    /// The code grant's answer holds no ID token (OIDC Core 3.1.3.3 requires one).
    code_without_id_token: bool,
    refreshes: u32,
    reuse: u32,
    invalid_grants: u32,
    last_access: String,
    /// The browser's local storage, shared by its tabs.
    pub local: HashMap<&'static str, String>,
    /// Every refresh token ever presented.
    pub presented: Vec<String>,
    /// Every refresh token revoked.
    pub revoked: Vec<String>,
    /// Discovery names no revocation endpoint.
    pub no_revocation: bool,
}

/// The provider (and the browser profile the tabs share).
#[derive(Clone)]
pub struct Idp(pub Rc<RefCell<IdpState>>);

fn json_response(status: u16, v: serde_json::Value) -> HttpResponse {
    HttpResponse {
        status,
        headers: vec![],
        body: v.to_string().into_bytes(),
    }
}

impl Idp {
    pub fn new() -> Self {
        Idp(Rc::new(RefCell::new(IdpState {
            key: EcKey::new(1, "k1"),
            session: None,
            codes: HashMap::new(),
            families: HashMap::new(),
            next: 0,
            paths: vec![],
            lifetime: 60,
            expires_in: None,
            refresh_expires_in: None,
            skew: 0,
            down: false,
            jwks_down: false,
            subject_on_refresh: None,
            roles: None,
            issue_refresh: true,
            frame_hangs: false,
            lose_answers: 0,
            token_failure: None,
            frame_stops: false,
            omit_auth_time: false,
            auth_time_on_refresh: None,
            omit_nonce_on_refresh: false,
            old_id_token: None,
            code_without_id_token: false,
            authorize_error: None,
            refresh_idles_out: false,
            rsa: None,
            extra_audience: None,
            refreshes: 0,
            reuse: 0,
            invalid_grants: 0,
            last_access: String::new(),
            local: HashMap::new(),
            presented: vec![],
            revoked: vec![],
            no_revocation: false,
        })))
    }

    pub fn lifetime_ms(&self) -> u64 {
        self.0.borrow().lifetime * 1000
    }
    pub fn requests(&self) -> usize {
        self.0.borrow().paths.len()
    }
    pub fn paths(&self) -> Vec<String> {
        self.0.borrow().paths.clone()
    }
    pub fn paths_since(&self, n: usize) -> Vec<String> {
        self.0.borrow().paths[n..].to_vec()
    }
    /// The refresh tokens revoked so far, in order.
    pub fn revoked(&self) -> Vec<String> {
        self.0.borrow().revoked.clone()
    }
    pub fn refreshes(&self) -> u32 {
        self.0.borrow().refreshes
    }
    pub fn reuse_detected(&self) -> u32 {
        self.0.borrow().reuse
    }
    pub fn invalid_grants(&self) -> u32 {
        self.0.borrow().invalid_grants
    }
    pub fn last_access_token(&self) -> String {
        self.0.borrow().last_access.clone()
    }
    pub fn set_refresh_expires_in(&self, v: Option<u64>) {
        self.0.borrow_mut().refresh_expires_in = v;
    }
    pub fn set_expires_in(&self, v: Option<u64>) {
        self.0.borrow_mut().expires_in = Some(v);
    }
    pub fn set_clock_skew(&self, ms: i64) {
        self.0.borrow_mut().skew = ms;
    }
    pub fn set_down(&self, down: bool) {
        self.0.borrow_mut().down = down;
    }
    pub fn set_jwks_down(&self, down: bool) {
        self.0.borrow_mut().jwks_down = down;
    }
    pub fn set_subject_on_refresh(&self, sub: Option<&str>) {
        self.0.borrow_mut().subject_on_refresh = sub.map(Into::into);
    }
    /// A `roles` claim in the ID tokens from now on.
    pub fn set_roles(&self, roles: &[&str]) {
        self.0.borrow_mut().roles = Some(roles.iter().map(|r| (*r).to_owned()).collect());
    }
    pub fn set_issue_refresh_tokens(&self, on: bool) {
        self.0.borrow_mut().issue_refresh = on;
    }
    pub fn set_old_id_token_on_refresh(&self, old: Option<OldIdToken>) {
        self.0.borrow_mut().old_id_token = old;
    }
    pub fn set_refresh_idles_out(&self, on: bool) {
        self.0.borrow_mut().refresh_idles_out = on;
    }
    pub fn set_authorize_error(&self, error: Option<&'static str>) {
        self.0.borrow_mut().authorize_error = error;
    }
    pub fn set_omit_nonce_on_refresh(&self, on: bool) {
        self.0.borrow_mut().omit_nonce_on_refresh = on;
    }
    pub fn set_auth_time_on_refresh(&self, auth_time: Option<Option<u64>>) {
        self.0.borrow_mut().auth_time_on_refresh = auth_time;
    }
    pub fn set_omit_auth_time(&self, on: bool) {
        self.0.borrow_mut().omit_auth_time = on;
    }
    /// The next `n` token requests are carried out, and their answers lost on the
    /// way back (the browser sees a timeout).
    pub fn lose_token_answers(&self, n: u32) {
        self.0.borrow_mut().lose_answers = n;
    }
    /// The next token request is answered with `status` and `body`, not carried out.
    pub fn fail_next_token(&self, status: u16, body: &str) {
        self.0.borrow_mut().token_failure = Some((status, body.to_owned()));
    }
    pub fn set_frame_stops(&self, on: bool) {
        self.0.borrow_mut().frame_stops = on;
    }
    pub fn is_down(&self) -> bool {
        self.0.borrow().down
    }
    pub fn set_frame_hangs(&self, on: bool) {
        self.0.borrow_mut().frame_hangs = on;
    }
    pub fn rotate_key(&self) {
        self.0.borrow_mut().key = EcKey::new(2, "k2");
    }
    /// A new key under the old key's `kid`.
    pub fn rotate_key_keeping_kid(&self) {
        self.0.borrow_mut().key = EcKey::new(3, "k1");
    }
    /// The access tokens' lifetime (seconds; `expires_in`, and `exp - iat`).
    pub fn set_lifetime(&self, secs: u64) {
        self.0.borrow_mut().lifetime = secs;
    }
    pub fn set_code_without_id_token(&self, on: bool) {
        self.0.borrow_mut().code_without_id_token = on;
    }
    pub fn set_extra_audience(&self, audience: Option<&'static str>) {
        self.0.borrow_mut().extra_audience = audience;
    }
    /// RS256 from now on, under `kid`.
    pub fn switch_to_rsa(&self, kid: &'static str) {
        self.0.borrow_mut().rsa = Some(kid);
    }
    pub fn end_sessions(&self) {
        self.0.borrow_mut().session = None;
    }
    pub fn revoke_all(&self) {
        for f in self.0.borrow_mut().families.values_mut() {
            f.revoked = true;
        }
    }

    /// The provider's clock (seconds): its own, whatever the client's wall clock says.
    fn time(&self, now: Now) -> u64 {
        let ms = WALL0 as i64 + now.mono as i64 + self.0.borrow().skew;
        (ms / 1000) as u64
    }

    /// The authorization endpoint: the query of the redirect back.
    pub fn authorize(&self, url: &str, login: Option<&str>) -> (String, String) {
        let mut st = self.0.borrow_mut();
        st.paths.push("/auth".into());
        let query = url.split_once('?').map(|(_, q)| q).unwrap_or("");
        let pairs = form::parse(query);
        let params: HashMap<String, String> = pairs.iter().cloned().collect();
        // RFC 6749 section 3.1: no parameter twice (a provider may refuse the request).
        assert_eq!(params.len(), pairs.len(), "a parameter sent twice: {query}");
        if let Some(user) = login {
            st.session = Some(user.to_owned());
        }
        let redirect = params["redirect_uri"].clone();
        let state = params["state"].clone();
        if let Some(error) = st.authorize_error {
            let q = form::serialize([("error", error), ("state", state.as_str()), ("iss", ISS)]);
            return (redirect, q);
        }
        let Some(user) = st.session.clone() else {
            assert_eq!(params.get("prompt").map(String::as_str), Some("none"));
            let q = form::serialize([
                ("error", "login_required"),
                ("state", state.as_str()),
                ("iss", ISS),
            ]);
            return (redirect, q);
        };
        st.next += 1;
        let code = format!("code{}", st.next);
        let auth_time = params.contains_key("max_age") && !st.omit_auth_time;
        st.codes.insert(
            code.clone(),
            Grant {
                user,
                nonce: params.get("nonce").cloned(),
                auth_time,
                redirect_uri: redirect.clone(),
                challenge: params["code_challenge"].clone(),
            },
        );
        let q = form::serialize([
            ("code", code.as_str()),
            ("state", state.as_str()),
            ("iss", ISS),
        ]);
        (redirect, q)
    }

    fn issue(
        &self,
        now: Now,
        user: &str,
        nonce: Option<String>,
        auth_time: Option<u64>,
        family: Option<u32>,
    ) -> HttpResponse {
        let iat = self.time(now);
        let mut st = self.0.borrow_mut();
        let access = st.key.jwt(
            Some("at+jwt"),
            &json!({"iss": ISS, "sub": user, "aud": "api", "iat": iat, "exp": iat + st.lifetime, "client_id": "spa"}),
        );
        let first = family.and_then(|f| st.families[&f].first_id.clone());
        let id_iat = match (st.old_id_token, &first) {
            (Some(OldIdToken::Backdated), Some((_, first_iat))) => *first_iat,
            _ => iat,
        };
        let mut id = json!({"iss": ISS, "sub": user, "aud": "spa", "iat": id_iat, "exp": id_iat + 600, "name": user});
        if let Some(extra) = st.extra_audience {
            id["aud"] = json!(["spa", extra]);
            id["azp"] = "spa".into();
        }
        if id_iat != iat {
            // Another token than the first (signatures are deterministic).
            id["jti"] = iat.into();
        }
        if let Some(n) = nonce {
            id["nonce"] = n.into();
        }
        if let Some(t) = auth_time {
            id["auth_time"] = t.into();
        }
        if let Some(roles) = &st.roles {
            id["roles"] = roles.clone().into();
        }
        let id_token = match (st.old_id_token, first) {
            (Some(OldIdToken::Resent), Some((first, _))) => first,
            _ => match st.rsa {
                Some(kid) => crate::test_support::rsa_sign("RS256", kid, &id),
                None => st.key.jwt(None, &id),
            },
        };
        if let Some(f) = family {
            let family = st.families.get_mut(&f).unwrap();
            family.first_id.get_or_insert((id_token.clone(), iat));
            family.used_at = now.mono;
        }
        let mut body = json!({
            "access_token": access,
            "token_type": "Bearer",
            "id_token": id_token,
        });
        match st.expires_in {
            None => body["expires_in"] = st.lifetime.into(),
            Some(Some(v)) => body["expires_in"] = v.into(),
            Some(None) => {}
        }
        if let Some(r) = st.refresh_expires_in {
            body["refresh_expires_in"] = r.into();
        }
        if let Some(f) = family {
            let generation = st.families[&f].generation;
            body["refresh_token"] = format!("rt:{f}:{generation}").into();
        }
        st.last_access = access;
        json_response(200, body)
    }

    fn invalid_grant(&self) -> Result<HttpResponse, String> {
        self.0.borrow_mut().invalid_grants += 1;
        Ok(json_response(400, json!({"error": "invalid_grant"})))
    }

    fn discovery(&self) -> serde_json::Value {
        let mut d = json!({
            "issuer": ISS,
            "authorization_endpoint": format!("{ISS}/auth"),
            "token_endpoint": format!("{ISS}/token"),
            "jwks_uri": format!("{ISS}/jwks"),
            "end_session_endpoint": format!("{ISS}/session/end"),
            "authorization_response_iss_parameter_supported": true,
        });
        if !self.0.borrow().no_revocation {
            d["revocation_endpoint"] = json!(format!("{ISS}/revoke"));
        }
        d
    }

    pub fn handle(&self, request: &HttpRequest, now: Now) -> Result<HttpResponse, String> {
        let path = request
            .url
            .strip_prefix(ISS)
            .unwrap_or(&request.url)
            .to_owned();
        let path = path.split('?').next().unwrap_or("").to_owned();
        self.0.borrow_mut().paths.push(path.clone());
        if self.0.borrow().down {
            return Err("connection refused".into());
        }
        match path.as_str() {
            "/.well-known/openid-configuration" => Ok(json_response(200, self.discovery())),
            "/jwks" => {
                let st = self.0.borrow();
                if st.jwks_down {
                    return Ok(json_response(503, json!({})));
                }
                let key = match st.rsa {
                    Some(kid) => json!(crate::test_support::rsa_jwk(kid)),
                    None => json!(st.key.jwk()),
                };
                Ok(json_response(200, json!({ "keys": [key] })))
            }
            "/token" => {
                let failure = self.0.borrow_mut().token_failure.take();
                if let Some((status, body)) = failure {
                    return Ok(HttpResponse {
                        status,
                        headers: vec![],
                        body: body.into_bytes(),
                    });
                }
                let answer = self.token(request, now);
                let mut st = self.0.borrow_mut();
                if st.lose_answers > 0 {
                    st.lose_answers -= 1;
                    return Err("the request timed out".into());
                }
                answer
            }
            "/revoke" => {
                let body = String::from_utf8(request.body.clone()).unwrap();
                let p: HashMap<String, String> = form::parse(&body).into_iter().collect();
                assert_eq!(p["token_type_hint"], "refresh_token");
                let parts: Vec<&str> = p["token"].split(':').collect();
                let f: u32 = parts[1].parse().unwrap();
                let mut st = self.0.borrow_mut();
                st.revoked.push(p["token"].clone());
                if let Some(family) = st.families.get_mut(&f) {
                    family.revoked = true;
                }
                Ok(json_response(200, json!({})))
            }
            other => panic!("unexpected request to {other}"),
        }
    }

    /// The token endpoint.
    fn token(&self, request: &HttpRequest, now: Now) -> Result<HttpResponse, String> {
        let body = String::from_utf8(request.body.clone()).unwrap();
        let p: HashMap<String, String> = form::parse(&body).into_iter().collect();
        match p["grant_type"].as_str() {
            "authorization_code" => {
                let grant = self.0.borrow_mut().codes.remove(&p["code"]);
                let Some(grant) = grant else {
                    return self.invalid_grant();
                };
                let challenge = b64::encode(&Sha256::digest(p["code_verifier"].as_bytes()));
                assert_eq!(challenge, grant.challenge, "PKCE");
                assert_eq!(p["redirect_uri"], grant.redirect_uri);
                let auth_time = grant.auth_time.then(|| self.time(now));
                let family = if self.0.borrow().issue_refresh {
                    let mut st = self.0.borrow_mut();
                    st.next += 1;
                    let f = st.next;
                    st.families.insert(
                        f,
                        Family {
                            user: grant.user.clone(),
                            nonce: grant.nonce.clone(),
                            auth_time,
                            ..Family::default()
                        },
                    );
                    Some(f)
                } else {
                    None
                };
                let mut answer = self.issue(now, &grant.user, grant.nonce, auth_time, family);
                if self.0.borrow().code_without_id_token {
                    let mut body: serde_json::Value = serde_json::from_slice(&answer.body).unwrap();
                    body.as_object_mut().unwrap().remove("id_token");
                    answer = json_response(200, body);
                }
                Ok(answer)
            }
            "refresh_token" => {
                let rt = p["refresh_token"].clone();
                self.0.borrow_mut().presented.push(rt.clone());
                let parts: Vec<&str> = rt.split(':').collect();
                let (f, g): (u32, u32) = (parts[1].parse().unwrap(), parts[2].parse().unwrap());
                let (user, nonce, auth_time) = {
                    let mut st = self.0.borrow_mut();
                    let idle = st.refresh_expires_in.filter(|_| st.refresh_idles_out);
                    let family = st.families.get_mut(&f).unwrap();
                    if idle.is_some_and(|idle| now.mono > family.used_at + idle * 1000) {
                        family.revoked = true;
                    }
                    if family.revoked {
                        drop(st);
                        return self.invalid_grant();
                    }
                    if family.generation != g {
                        // Reuse of a rotated refresh token: the family is revoked.
                        family.revoked = true;
                        st.reuse += 1;
                        drop(st);
                        return self.invalid_grant();
                    }
                    family.generation += 1;
                    let user = family.user.clone();
                    let (nonce, auth_time) = (family.nonce.clone(), family.auth_time);
                    let auth_time = st.auth_time_on_refresh.unwrap_or(auth_time);
                    let nonce = nonce.filter(|_| !st.omit_nonce_on_refresh);
                    st.refreshes += 1;
                    (
                        st.subject_on_refresh.clone().unwrap_or(user),
                        nonce,
                        auth_time,
                    )
                };
                Ok(self.issue(now, &user, nonce, auth_time, Some(f)))
            }
            other => panic!("grant {other}"),
        }
    }
}

/// The signature check the browser's driver does with WebCrypto, done natively.
pub fn verify(
    token: &str,
    keys: &JwkSet,
    policy: &AlgorithmPolicy,
) -> Result<VerifiedJws, JoseError> {
    UnverifiedJws::parse(token).and_then(|j| j.verify(keys, policy, &RustCryptoVerifier))
}

/// One tab of the browser, with its page's session storage.
pub struct Tab {
    pub idp: Idp,
    pub machine: Machine,
    pub client_id: String,
    pub tweak: fn(OidcConfig) -> OidcConfig,
    pub origin: String,
    pub tab_id: String,
    /// The configured issuer.
    pub issuer: &'static str,
    pub path: String,
    pub query: String,
    pub url: String,
    pub now: Now,
    pub session: HashMap<String, String>,
    pub hold_fetches: bool,
    /// How long a signature check takes (WebCrypto answers in a later task).
    pub verify_ms: u64,
    pub held: Vec<(ReqId, HttpRequest)>,
    queue: VecDeque<Event>,
    pub published: Vec<AuthState<RawClaims>>,
    pub navigations: Vec<String>,
    /// For each navigation, whether it replaced the history entry.
    pub replaced: Vec<bool>,
    /// Times the page was asked to load again.
    pub reloads: u32,
    pub broadcasts: Vec<TabMessage>,
    pub countdowns: Vec<Option<u32>>,
    pub info: crate::SessionInfo,
    pub frames_opened: u32,
    pub frames_closed: u32,
    pub frames_adopted: u32,
    /// The early script's request, as the page sent it before the app started.
    pub early_url: Option<String>,
    pub early: Option<crate::session::machine::EarlyFrame>,
    /// The browser is offline when the app starts.
    pub offline: bool,
    pub resolved: Vec<(WaiterId, Result<AccessToken, AuthError>)>,
    next_waiter: WaiterId,
    pub last_frame: Option<ReqId>,
    /// The next code exchange's answer came this long (ms) before the app asked for
    /// it (the page's script sent it before the app started).
    pub exchange_waited: u64,
    /// Times the machine said the page script's code exchange is not wanted.
    pub exchanges_forgone: u32,
}

fn slot_name(slot: Slot) -> &'static str {
    match slot {
        Slot::Pending => "pending",
        Slot::SignedIn => "signed-in",
        Slot::LoggedOut => "logged-out",
        Slot::Provider => "provider",
        Slot::Activity => "activity",
    }
}

impl Tab {
    pub fn new(idp: &Idp, path: &str) -> Self {
        Self::with_origin(idp, APP, path)
    }

    pub fn with_origin(idp: &Idp, origin: &str, path: &str) -> Self {
        Tab {
            idp: idp.clone(),
            machine: Machine::new(Client::bind(OidcConfig::new(ISS, "spa"), origin)),
            client_id: "spa".into(),
            tweak: |c| c,
            origin: origin.into(),
            tab_id: "a".into(),
            issuer: ISS,
            path: path.into(),
            query: String::new(),
            url: path.into(),
            now: Now {
                mono: 0,
                wall: WALL0,
            },
            session: HashMap::new(),
            hold_fetches: false,
            verify_ms: 0,
            held: vec![],
            queue: VecDeque::new(),
            published: vec![],
            navigations: vec![],
            replaced: vec![],
            reloads: 0,
            broadcasts: vec![],
            countdowns: vec![],
            info: crate::SessionInfo::default(),
            frames_opened: 0,
            frames_closed: 0,
            frames_adopted: 0,
            early_url: None,
            early: None,
            offline: false,
            resolved: vec![],
            next_waiter: 0,
            last_frame: None,
            exchange_waited: 0,
            exchanges_forgone: 0,
        }
    }

    fn config(&self) -> OidcConfig {
        (self.tweak)(OidcConfig::new(self.issuer, self.client_id.clone()))
    }

    /// The page loads: the machine starts with what the storage holds.
    pub fn start(&mut self) {
        self.machine = Machine::new(Client::bind(self.config(), &self.origin));
        self.url = format!("{}{}", self.path, self.query);
        let local = self.idp.0.borrow().local.clone();
        let info = StartInfo {
            tab: self.tab_id.clone(),
            page: PageUrl {
                path: self.path.clone(),
                query: self.query.clone(),
                fragment: String::new(),
            },
            pending: self.session.get("pending").cloned(),
            provider: self.session.get("provider").cloned(),
            signed_in: local.get("signed-in").cloned(),
            logged_out: local.get("logged-out").cloned(),
            visible: true,
            early: self.early.take(),
            offline: self.offline,
        };
        self.dispatch(Event::Start(info));
    }

    pub fn dispatch(&mut self, event: Event) {
        self.queue.push_back(event);
        self.run();
    }

    pub fn run(&mut self) {
        let mut steps = 0;
        while let Some(event) = self.queue.pop_front() {
            steps += 1;
            assert!(steps < 1000, "the machine does not settle");
            let commands = self.machine.handle(self.now, event);
            for c in commands {
                self.exec(c);
            }
        }
    }

    fn exec(&mut self, command: Command) {
        match command {
            Command::Fetch { req, request, .. } => {
                if self.hold_fetches {
                    self.held.push((req, request));
                } else {
                    let exchange = String::from_utf8_lossy(&request.body)
                        .contains("grant_type=authorization_code");
                    let waited = match exchange {
                        true => std::mem::take(&mut self.exchange_waited),
                        false => 0,
                    };
                    let answered = Now {
                        mono: self.now.mono.saturating_sub(waited),
                        wall: self.now.wall.saturating_sub(waited),
                    };
                    let result = self.idp.handle(&request, answered);
                    self.queue.push_back(Event::Http {
                        req,
                        result,
                        waited,
                    });
                }
            }
            Command::Verify {
                req,
                token,
                keys,
                policy,
            } => {
                let result = verify(&token, &keys, &policy);
                self.advance(self.verify_ms);
                self.queue.push_back(Event::Verified { req, result });
            }
            Command::Navigate { url, replace } => {
                self.navigations.push(url);
                self.replaced.push(replace);
            }
            Command::ReplaceUrl(url) => self.url = url,
            Command::Reload => self.reloads += 1,
            Command::Store { slot, value } => {
                let name = slot_name(slot);
                if slot.shared() {
                    let local = &mut self.idp.0.borrow_mut().local;
                    match value {
                        Some(v) => local.insert(name, v),
                        None => local.remove(name),
                    };
                } else {
                    match value {
                        Some(v) => self.session.insert(name.into(), v),
                        None => self.session.remove(name),
                    };
                }
            }
            Command::Broadcast(m) => self.broadcasts.push(m),
            Command::OpenSilentFrame { req, url, .. } => {
                self.frames_opened += 1;
                self.last_frame = Some(req);
                let stops = self.idp.0.borrow().frame_stops;
                if self.idp.is_down() || stops {
                    // The frame's request fails and it shows the browser's error
                    // page, or it stays on a page of the provider's.
                    self.idp.0.borrow_mut().paths.push("/auth".into());
                    self.queue.push_back(Event::SilentFailed { req });
                } else if !self.idp.0.borrow().frame_hangs {
                    let (redirect, query) = self.idp.authorize(&url, None);
                    assert_eq!(redirect, format!("{}/silent-callback.html", self.origin));
                    self.queue.push_back(Event::SilentResult { req, query });
                }
            }
            Command::AdoptSilentFrame { req } => {
                self.frames_adopted += 1;
                self.last_frame = Some(req);
                if let Some(url) = self.early_url.take() {
                    if self.idp.is_down() {
                        self.queue.push_back(Event::SilentFailed { req });
                    } else {
                        let (_, query) = self.idp.authorize(&url, None);
                        self.queue.push_back(Event::SilentResult { req, query });
                    }
                }
            }
            Command::CloseSilentFrame => self.frames_closed += 1,
            Command::ForgoEarlyExchange => self.exchanges_forgone += 1,
            Command::Resolve { waiter, result } => self.resolved.push((waiter, result)),
            Command::Publish(state) => self.published.push(state),
            Command::Countdown(c) => self.countdowns.push(c),
            Command::Info(info) => self.info = info,
        }
    }

    /// Answers the oldest request held.
    pub fn release_one(&mut self) {
        let (req, request) = self.held.remove(0);
        let result = self.idp.handle(&request, self.now);
        self.queue.push_back(Event::Http {
            req,
            result,
            waited: 0,
        });
        self.run();
    }

    pub fn release_all(&mut self) {
        for (req, request) in std::mem::take(&mut self.held) {
            let result = self.idp.handle(&request, self.now);
            self.queue.push_back(Event::Http {
                req,
                result,
                waited: 0,
            });
        }
        self.run();
    }

    pub fn deliver_late_frame(&mut self) {
        if let Some(req) = self.last_frame {
            self.dispatch(Event::SilentResult {
                req,
                query: "code=late&state=late".into(),
            });
        }
    }

    pub fn state(&self) -> AuthState<RawClaims> {
        self.published.last().cloned().unwrap_or(AuthState::Pending)
    }

    pub fn user(&self) -> Option<String> {
        self.state().user().map(|u| u.sub().to_owned())
    }

    pub fn want_token(&mut self) {
        self.next_waiter += 1;
        let w = self.next_waiter;
        self.dispatch(Event::WantToken(w));
    }

    pub fn token(&mut self) -> Result<AccessToken, AuthError> {
        self.want_token();
        self.last_answer().clone()
    }

    /// The answer to the newest token request, which must have one (an earlier
    /// request's answer does not stand in for it).
    pub fn last_answer(&self) -> &Result<AccessToken, AuthError> {
        let (waiter, answer) = self.resolved.last().expect("no token request was answered");
        assert_eq!(
            *waiter, self.next_waiter,
            "the newest token request is unanswered"
        );
        answer
    }

    pub fn advance(&mut self, ms: u64) {
        self.now.mono += ms;
        self.now.wall += ms;
    }

    /// Sends `Timer` while a deadline has passed; a deadline that stays in the past
    /// without anything happening is a timer loop.
    pub fn fire_timers(&mut self) {
        for _ in 0..100 {
            match self.machine.next_deadline() {
                Some(d) if d <= self.now.mono => {
                    let before = (
                        self.idp.requests(),
                        self.published.len(),
                        self.frames_opened,
                    );
                    self.dispatch(Event::Timer);
                    let after = (
                        self.idp.requests(),
                        self.published.len(),
                        self.frames_opened,
                    );
                    if before == after && self.held.is_empty() {
                        assert_ne!(
                            self.machine.next_deadline(),
                            Some(d),
                            "timer loop: the deadline stays at {d}"
                        );
                    }
                }
                _ => return,
            }
        }
        panic!("timers keep firing");
    }

    /// The user is active until `t` (mono).
    pub fn activity_until(&mut self, t: u64) {
        while self.now.mono + 10_000 < t {
            self.advance(10_000);
            self.dispatch(Event::Activity);
        }
        let rest = t - self.now.mono;
        self.advance(rest);
        self.dispatch(Event::Activity);
    }

    pub fn storage_values(&self) -> Vec<String> {
        let mut v: Vec<String> = self.session.values().cloned().collect();
        v.extend(self.idp.0.borrow().local.values().cloned());
        v
    }

    /// The same page loaded again and started, its commands carried out.
    pub fn load_again(&self) -> Tab {
        let mut t = self.reload();
        t.start();
        t.run();
        t
    }

    /// The same page loaded again: same tab, same session storage.
    pub fn reload(&self) -> Tab {
        let (path, query) = match self.url.split_once('?') {
            Some((p, q)) => (p.to_owned(), format!("?{q}")),
            None => (self.url.clone(), String::new()),
        };
        let mut t = Tab::with_origin(&self.idp, &self.origin, &path);
        t.query = query;
        t.tab_id = self.tab_id.clone();
        t.client_id = self.client_id.clone();
        t.tweak = self.tweak;
        t.verify_ms = self.verify_ms;
        t.now = self.now;
        t.session = self.session.clone();
        t
    }

    fn landing(&self, redirect: &str, query: String) -> Tab {
        let path = crate::session::client::path_of(redirect).to_owned();
        let mut t = self.reload();
        t.path = path;
        t.query = format!("?{query}");
        t
    }

    /// The user signs in at the provider: the page comes back with the callback.
    pub fn follow_interactive(&self, user: &str) -> Tab {
        let url = self.navigations.last().expect("a navigation").clone();
        let (redirect, query) = self.idp.authorize(&url, Some(user));
        self.landing(&redirect, query)
    }

    /// The provider answers a `prompt=none` redirect; the app loads again.
    pub fn follow_redirect(&self) -> Tab {
        let url = self.navigations.last().expect("a navigation").clone();
        let (redirect, query) = self.idp.authorize(&url, None);
        let mut t = self.landing(&redirect, query);
        t.start();
        t
    }

    pub fn login_as(mut self, user: &str) -> Tab {
        let path = self.url.clone();
        self.dispatch(Event::Login(crate::LoginOptions::default().return_to(path)));
        let mut t = self.follow_interactive(user);
        t.start();
        t.run();
        t
    }
}

/// A tab of an app on another site than the provider (no silent frame), signed in
/// as alice.
pub fn signed_in_across_sites(idp: &Idp, path: &str) -> Tab {
    let mut tab = Tab::with_origin(idp, "http://127.0.0.1:3000", path);
    tab.start();
    tab.run();
    tab.login_as("alice")
}

/// A tab signed in as alice.
pub fn signed_in(idp: &Idp) -> Tab {
    signed_in_with(idp, |c| c)
}

pub fn signed_in_with(idp: &Idp, tweak: fn(OidcConfig) -> OidcConfig) -> Tab {
    let mut tab = Tab::new(idp, "/");
    tab.tweak = tweak;
    tab.start();
    tab.run();
    let tab = tab.login_as("alice");
    assert!(tab.state().is_logged_in(), "{:?}", tab.state());
    tab
}
